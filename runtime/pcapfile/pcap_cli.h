/* pcaprun pcap stats|top|merge|filter|slice|split FILE... : capture files from the command line
 * (pcapstats.h, pcapops.h), human text or --json. argv[0] is "pcap". Returns the exit status:
 * 0 done, 1 a file could not be read or written, 2 a usage error (a bad option or filter). */
#ifndef PCAPRUN_PCAP_CLI_H
#define PCAPRUN_PCAP_CLI_H

int rt_pcap_main(int argc, char **argv);

#endif
