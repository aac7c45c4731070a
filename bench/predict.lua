-- wrk script: POST with an empty body (the query string carries x).
-- Used as: wrk -s bench/predict.lua 'http://127.0.0.1:PORT/v2/models/trivial/predict/?x=3'
wrk.method = "POST"
wrk.body = ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
