-- pcaprun-test: --emulate --time-scale 0.01
-- pcaprun.json: sorted keys, arrays, escapes, numbers, files.
local json = require "pcaprun.json"
local T = require "testlib"

T.case("encode: sorted keys, arrays, nesting, indentation", function()
  T.eq(json.encode { b = 1, a = { 3, 2 }, c = { z = true, y = false } },
       '{"a":[3,2],"b":1,"c":{"y":false,"z":true}}', "compact")
  T.eq(json.encode({ k = { 1 } }, { indent = "  " }), '{\n  "k": [\n    1\n  ]\n}', "indented")
  T.eq(json.encode {}, "{}", "an empty table is an object")
  T.eq(json.encode(json.array()), "[]", "unless marked as an array")
  T.raises(function() json.encode { [1] = "a", [3] = "c" } end, "keys must be strings", "sparse arrays")
end)

T.case("encode: strings and numbers", function()
  T.eq(json.encode('a "q" \\ \n\t\1'), '"a \\"q\\" \\\\ \\n\\t\\u0001"', "escapes")
  T.eq(json.encode("ünï/code"), '"ünï/code"', "UTF-8 and slashes pass through")
  T.eq(json.encode(3), "3", "integer")
  T.eq(json.encode(3.0), "3", "integral float")
  T.eq(json.encode(1764141299.125), "1764141299.125", "epoch seconds keep milliseconds")
  T.eq(json.encode(9007199254740993), "9007199254740993", "64-bit integers are exact")
  T.eq(json.encode(json.null), "null", "null")
  T.raises(function() json.encode(0 / 0) end, "not a JSON number", "NaN")
  T.raises(function() json.encode { f = print } end, "function cannot be encoded", "function")
  local t = {}
  t.self = t
  T.raises(function() json.encode(t) end, "contains itself", "cycle")
end)

T.case("decode, write, read", function()
  local v = json.decode('{"a":[1,2],"b":"x"}')
  T.eq(v.a[2], 2, "decoded")
  local bad, err = json.decode("{")
  T.eq(bad, nil, "bad JSON")
  T.ok(err, "a message")
  local dir = T.tmpdir()
  T.ok(json.write(dir .. "/f.json", { list = { 1, 2 }, name = "n" }), "write")
  T.eq(json.read(dir .. "/f.json").name, "n", "read back")
  local missing, merr = json.read(dir .. "/none.json")
  T.eq(missing, nil, "missing file")
  T.match(merr, "none.json", "message names the file")
  T.rmtree(dir)
end)

T.done()
