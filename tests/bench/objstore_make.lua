-- The test object of tests/bench/objstore.sh (plain lua5.4):
--   lua5.4 objstore_make.lua PATH BYTES    one classic pcap of about BYTES, 1000-byte packets
local path, bytes = arg[1], tonumber(arg[2])
local DATA = string.rep("\x5a", 1000)

local f = assert(io.open(path, "wb"))
f:write(string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
local total = bytes // (#DATA + 16)
for first = 0, total - 1, 1024 do
  local out = {}
  for i = first, math.min(first + 1023, total - 1) do
    out[#out + 1] = string.pack("<I4I4I4I4", 1700000000 + i // 1000000, i % 1000000, #DATA, #DATA) .. DATA
  end
  f:write(table.concat(out))
end
assert(f:close())
