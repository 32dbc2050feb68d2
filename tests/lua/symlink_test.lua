-- pcaprun-test: --emulate --time-scale 0.01
-- Files pcaprun writes are never written through a symlink planted at their name (issue 11,
-- item 3): a download's PATH.part, the temporary of fs.write / json.write / manifests, and the
-- final name itself (a rename replaces the link, never what it points to).
local pcap = require "pcaprun.pcap"
local fs = require "pcaprun.fs"
local json = require "pcaprun.json"
local T = require "testlib"

local dir = T.tmpdir()
local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
local function link(target, name) assert(os.execute(("ln -s '%s' '%s'"):format(target, name))) end
local function is_link(path) return os.execute(("test -L '%s'"):format(path)) == true end
local function victim(name)
  local path = dir .. "/" .. name
  assert(fs.write(path, "precious\n"))
  return path
end

local cap = assert(pcap.create { type = "simple", time_limit = 2, packet_limit = 10 })
assert(cap:wait())

T.case("a symlink at PATH.part is not written through", function()
  local v = victim("victim-part")
  link(v, dir .. "/x.pcap.part")
  local ok, err = cap:download(dir .. "/x.pcap")
  T.eq(ok, nil, "the download is refused")
  T.match(tostring(err and err.message), "x%.pcap%.part", "naming the .part")
  T.eq(read(v), "precious\n", "the link's target is untouched")
  T.eq(fs.stat(dir .. "/x.pcap"), nil, "no x.pcap")
end)

T.case("a symlink at the final name is replaced, its target untouched", function()
  local v = victim("victim-final")
  link(v, dir .. "/y.pcap")
  assert(cap:download(dir .. "/y.pcap"))
  T.ok(not is_link(dir .. "/y.pcap"), "y.pcap is a file, not a link")
  T.eq(read(v), "precious\n", "the old link's target is untouched")
  T.ok(fs.check_pcap(dir .. "/y.pcap"), "y.pcap holds the capture")
end)

T.case("a fifo or another file's hard link at PATH.part is refused", function()
  assert(os.execute(("mkfifo '%s/f.pcap.part'"):format(dir)))
  T.eq(cap:download(dir .. "/f.pcap"), nil, "a fifo is not written (nor waited on)")
  local v = victim("victim-hard")
  assert(os.execute(("ln '%s' '%s/h.pcap.part'"):format(v, dir)))
  T.eq(cap:download(dir .. "/h.pcap"), nil, "a hard link is not written")
  T.eq(read(v), "precious\n", "its other name is untouched")
end)

T.case("fs.write and json.write never write through the old PATH.tmp or the final name", function()
  local v1, v2 = victim("victim-tmp"), victim("victim-manifest")
  link(v1, dir .. "/manifest.json.tmp")
  link(v2, dir .. "/manifest.json")
  assert(json.write(dir .. "/manifest.json", { ok = true }))
  T.eq(read(v1), "precious\n", "a link at manifest.json.tmp is not followed")
  T.eq(read(v2), "precious\n", "nor the link at manifest.json")
  T.ok(not is_link(dir .. "/manifest.json"), "manifest.json is a file now")
  T.eq(json.read(dir .. "/manifest.json").ok, true, "holding what was written")
  assert(fs.copy(dir .. "/manifest.json", dir .. "/copy.json"))
  T.eq(read(dir .. "/copy.json"), read(dir .. "/manifest.json"), "fs.copy the same way")
  for _, name in ipairs(fs.list(dir)) do
    T.ok(not name:find("%.tmp%.%x+$"), "no temporary left behind: " .. name)
  end
end)

T.rmtree(dir)
T.done()
