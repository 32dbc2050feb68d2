-- pcaprun-test: --emulate
-- The endpoint's checks (issue 11, items 1 and 7): plain http only to a literal loopback address
-- or localhost (never to a name that merely starts with "127."), and no user name or password in
-- the URL, which no message then shows. A client is made without sending anything.
local pcap = require "pcaprun.pcap"
local T = require "testlib"

local ACCOUNT = ("ab"):rep(16)
local function client(url) return pcap.client { base_url = url, account_id = ACCOUNT, token = "t" } end

T.case("plain http only to loopback", function()
  for _, url in ipairs { "http://127.example.test/client/v4", "http://127.0.0.1.example.test/",
                         "http://localhost.example.test/", "http://10.0.0.1/client/v4",
                         "http://[::2]:8080/", "http://0.0.0.0:8080/", "ftp://127.0.0.1/" } do
    T.raises(function() client(url) end, "must use https", url)
  end
  for _, url in ipairs { "http://127.0.0.1:1/client/v4", "http://127.1.2.3:1/", "http://localhost:1/",
                         "http://LOCALHOST:1/", "http://[::1]:1/", "https://api.example.test/client/v4" } do
    T.ok(pcall(client, url), url .. " is accepted")
  end
end)

T.case("no userinfo, and never shown", function()
  for _, url in ipairs { "http://user:Pw9Secret@127.0.0.1:1/client/v4",
                         "https://user:Pw9Secret@api.example.test/client/v4",
                         "https://Pw9Secret@api.example.test/client/v4",
                         "https://u:Pw9Secret@bad host/" } do
    local ok, err = pcall(client, url)
    T.ok(not ok, url .. " is refused")
    T.ok(not tostring(err):find("Pw9Secret", 1, true), "the password is not in the error: " .. tostring(err))
  end
  T.raises(function() client("https://user:Pw9Secret@api.example.test/") end, "user name or password",
           "the error says why")
end)

T.done()
