-- wrk script: POST a small multipart/form-data upload (field "data", a 5-byte file).
-- x goes in the query string.
-- Used as: wrk -s bench/upload.lua 'http://127.0.0.1:PORT/v2/models/trivial-upload/predict/?x=3'
local boundary = "----modelportbenchboundary7MA4YWxkTrZu0gW"
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n"
    .. "Content-Disposition: form-data; name=\"data\"; filename=\"hello.txt\"\r\n"
    .. "Content-Type: text/plain\r\n"
    .. "\r\n"
    .. "hello\r\n"
    .. "--" .. boundary .. "--\r\n"
