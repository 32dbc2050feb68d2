-- Test data for tests/bench/objstore.sh (plain lua5.4):
--   lua5.4 objstore_make.lua object PATH BYTES    one classic pcap of about BYTES
--   lua5.4 objstore_make.lua parts DIR N BYTES    N pcaps of about BYTES each, their packets'
--                                                 times interleaved (as one capture's servers)
local mode = arg[1]
local HEADER = string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
local DATA = string.rep("\x5a", 1000)

-- Records of packets first .. first + n - 1 of part p out of np: packet i at i * np + p µs.
local function records(first, n, p, np)
  local out = {}
  for i = first, first + n - 1 do
    local t = i * np + p
    out[#out + 1] = string.pack("<I4I4I4I4", 1700000000 + t // 1000000, t % 1000000, #DATA, #DATA) .. DATA
  end
  return table.concat(out)
end

local function write(path, bytes, p, np)
  local f = assert(io.open(path, "wb"))
  f:write(HEADER)
  local per = #DATA + 16
  local total, chunk = bytes // per, 1024
  for first = 0, total - 1, chunk do f:write(records(first, math.min(chunk, total - first), p, np)) end
  assert(f:close())
end

if mode == "object" then
  write(arg[2], tonumber(arg[3]), 0, 1)
elseif mode == "parts" then
  local n = tonumber(arg[3])
  for p = 1, n do write(("%s/part%d.pcap"):format(arg[2], p), tonumber(arg[4]), p - 1, n) end
else
  error("usage: objstore_make.lua object PATH BYTES | parts DIR N BYTES")
end
