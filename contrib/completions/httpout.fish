complete -c httpout -s i -l input -d 'Input to serve: a file, a FIFO, `-` for stdin (live sink, file sink, push), or another server\'s live stream `http://HOST/MOUNT` (live sink: a relay)' -r
complete -c httpout -s o -l output -d 'Output URL (`http://HOST:PORT/NAME`), optionally followed by `:opt=value` suffixes' -r
complete -c httpout -l hmode -d 'Run mode: `default` (server), `push` (upload to `dst`) or `source` (uploads become inputs)' -r -f -a "default\t'Server mode: static files, live sink, file sink'
push\t'Client mode: upload inputs to `dst` with PUT or POST'
source\t'Incoming PUT/POST bodies become input streams'"
complete -c httpout -l port -d 'Server port; 0 picks a free one; `scan:START`: the first free port from START up (to 65535). Default 8080 unless an `-o` URL gives one' -r
complete -c httpout -l ifce -d 'Network interface (IP address) to bind; all interfaces when unset' -r
complete -c httpout -l listen -d 'Listeners, comma-separated: `http://IP:PORT`, `https://IP:PORT`, `unix:PATH`, `proxy+http(s)://IP:PORT` (PROXY protocol first); replaces ifce/port' -r
complete -c httpout -l cert -d 'Certificate chain file in PEM format; enables HTTPS with `pkey`' -r -F
complete -c httpout -l pkey -d 'Private key file in PEM format for `cert`' -r -F
complete -c httpout -l ca -d 'CA certificates (PEM bundle) that sign client certificates: HTTPS clients must present one (mutual TLS); its subject\'s CN is the user for rules' -r -F
complete -c httpout -l ca_optional -d 'With `ca`: a client certificate is asked for but not required; clients without one are anonymous' -r
complete -c httpout -l maxc -d 'Maximum number of connections, 0 is unlimited' -r
complete -c httpout -l maxp -d 'Maximum number of connections for one peer address, 0 is unlimited' -r
complete -c httpout -l timeout -d 'Timeout in seconds for idle persistent connections and request headers (0 disables)' -r
complete -c httpout -l header_timeout -d 'Seconds a new connection has to send its first request head (0: `timeout`); shorter of the two applies' -r
complete -c httpout -l max_conn_rate -d 'New connections per second accepted from one peer address, 0 is unlimited (over it: 503)' -r
complete -c httpout -l trusted_proxies -d 'Proxies whose `Forwarded`/`X-Forwarded-*` headers give the client (networks, comma-separated); maxp then counts requests per client' -r
complete -c httpout -l close -d 'Close the HTTP connection after each request' -r
complete -c httpout -l max_client_errors -d 'Disconnect an HTTP/1.1 client after this many consecutive error responses (0 never)' -r
complete -c httpout -l grace -d 'Seconds given to in-flight requests to finish on SIGINT/SIGTERM before the process exits' -r
complete -c httpout -l run_for -d 'Serve this many seconds, then exit 0 as on SIGTERM (in-flight requests get `grace`); unset: until a signal' -r
complete -c httpout -l hdrs -d 'Additional headers on every response, comma-separated: name,value,name,value...' -r
complete -c httpout -l server_tokens -d 'Products added to `Server: httpout/VERSION`, separated by `;` (`myapp/1.2;beta`); `off`: `Server: httpout`, without version' -r
complete -c httpout -l sutc -d 'Insert the server clock as `Server-UTC: <ms since the epoch>` in responses' -r
complete -c httpout -l trace -d 'Answer TRACE with the request echoed as `message/http` (without `Authorization`, `Proxy-Authorization`, `Cookie`); off: 405' -r
complete -c httpout -l cors -d 'CORS headers allowing all origins: off, on, or auto (when the request has an `Origin`)' -r -f -a "off\t'Never add CORS headers'
on\t'Always add CORS headers'
auto\t'Add CORS headers when the request carries an `Origin` header'"
complete -c httpout -l reqlog -d 'Short request log on stderr: `*` or methods (comma-separated), `REC` for writes, `-` prefix: no end line' -r
complete -c httpout -l users -d 'Users file (argon2id hashes), managed with `httpout users`; needed by rules files' -r -F
complete -c httpout -l auth_file -d 'File of accepted `Authorization` header values, one per line (simple mode)' -r -F
complete -c httpout -l digest -d 'Digest algorithms offered, in the order of the challenges: `sha-256`, `md5` (weak; for clients that know no other: Python\'s urllib takes only the first challenge)' -r
complete -c httpout -l metrics -d 'Path serving the metrics in the Prometheus text format (e.g. `/metrics`), to `metrics_allow` only; off when unset' -r
complete -c httpout -l metrics_allow -d 'Addresses allowed to read `metrics`, comma-separated CIDR blocks or addresses; others get 403' -r
complete -c httpout -l health -d 'Path of the readiness check (e.g. `/healthz`): 200 `ok` while serving, 503 once stopping; open to all, not logged' -r
complete -c httpout -l utc_timing -d 'Path of a clock for DASH/HLS players (e.g. `/time`): the time to the millisecond (`urn:mpeg:dash:utc:http-iso:2014`), `Date` on HEAD; open to all' -r
complete -c httpout -l log -d 'Which events reach standard error: a level (`debug`) or `ZONE=LEVEL,...` (`auth=debug,live=trace`; zones conn, tls, http, access, auth, static, live, push, follow, log stand for `httpout::ZONE`; other targets such as `rustls` are given whole). Default `RUST_LOG`, else `info`. Given, lines carry a timestamp, level and target' -r
complete -c httpout -l access_log -d 'Where the access log goes: a file (appended to; reopened on SIGUSR1) or `-` for standard error. Given without `--reqlog`, every request is logged' -r
complete -c httpout -l log_format -d 'The access log\'s lines: `gpac` (the `reqlog` lines), `common`, `combined` (Apache/nginx) or `json` (one object per line), the last three one line per request at its end. Not `gpac` without `--reqlog`: every request is logged' -r -f -a "gpac\t'GPAC\'s lines: `httpout: #ID PEER METHOD PATH STATUS BYTESB MSms`, with a start line per request as `reqlog` asks'
common\t'Common Log Format: `IP - USER [TIME] "REQUEST" STATUS BYTES`'
combined\t'`common` plus `"REFERER" "USER-AGENT"` (Apache/nginx `combined`)'
json\t'One JSON object per line'"
complete -c httpout -l rdirs -d 'Directories (or rules files) to expose for read, comma-separated; `gmem`: a private in-memory directory' -r -F
complete -c httpout -l wdir -d 'Directory to expose for write (PUT, POST, DELETE); `gmem`: the in-memory directory' -r -F
complete -c httpout -l dlist -d 'Enable HTML listing for GET requests on directories' -r
complete -c httpout -l norange -d 'Ignore byte ranges in GET (reply 200 to range requests)' -r
complete -c httpout -l zmax -d 'Largest uncompressed size compressed on the fly for text files; 0 disables compression' -r
complete -c httpout -l wait_new -d 'Milliseconds a GET for a missing file waits for an upload of it to start (0: 404 at once)' -r
complete -c httpout -l maxs -d 'Maximum upload size in bytes' -r
complete -c httpout -l max_depth -d 'Most directory levels below the write directory that a PUT, POST or form may name (deeper: 414)' -r
complete -c httpout -l hidden -d 'Serve, list and accept uploads of names starting with `.` (dotfiles); off by default' -r
complete -c httpout -l fsync -d 'Sync each upload\'s data before its rename and the directory after it (survives a power loss)' -r
complete -c httpout -l index -d 'Index files served for a directory URL, in order, comma-separated (`--index=` alone: none)' -r
complete -c httpout -l mime_types -d 'Apache-style `mime.types` file (`type/subtype ext ...` lines, `#` comments) whose types win over the built-in table' -r -F
complete -c httpout -l block_size -d 'Bytes read from a file per step (512 to 16M); files up to this size are read at once' -r
complete -c httpout -l cache_control -d '`Cache-Control` value for served files; `none` drops Cache-Control and ETag' -r
complete -c httpout -l cache_rule -d '`Cache-Control` for files matching GLOB (`*`, `**`, `?`; with a `/` matched against the URL path, else the file name), over `cache_control`; repeatable, the first match wins' -r
complete -c httpout -l max_cache_segs -d 'Segments kept per stream after each upload: in memory (gmem) at most N (at least 1); on disk -N keeps the last N, N ≥ 0 all' -r
complete -c httpout -l uploads_path -d 'URL path of the uploads endpoint: create an upload id (POST), read an upload\'s progress (GET ID)' -r
complete -c httpout -l require_id -d 'Take only uploads that name an id made by a POST to the uploads endpoint (`Upload-Id` header or `upload_id` query parameter); others are 403' -r
complete -c httpout -l require_placeholder -d 'Take only uploads whose id is a placeholder: made by an uploads admin\'s POST, or a file `ID.placeholder` in the write directory (implies require_id)' -r
complete -c httpout -l placeholder_ttl -d 'Seconds an upload id made by a POST, or a placeholder file, waits for its upload' -r
complete -c httpout -l progress_files -d 'Keep a one-byte progress file (`.httpout-upload-ID.prog`: 0-100 %, 127 complete, negative errors) beside each upload while it arrives' -r
complete -c httpout -l uploads_admin -d 'Users who may make placeholders and read every upload\'s progress, comma-separated' -r
complete -c httpout -l resume_ttl -d 'Seconds an incomplete resumable upload may stay idle before its temporary file is removed' -r
complete -c httpout -l resume_budget -d 'Total bytes reserved by incomplete resumable uploads (each its length, or `maxs` when unknown); creating one beyond it is 507' -r
complete -c httpout -l sink -d 'What `-i SOURCE -o URL` pairs feed: `file` (written to the first of `rdirs`), `live` (relayed to listeners), `auto` (file when `rdirs` is given)' -r -f -a "auto\t'The file sink when `rdirs` is given (as GPAC), the live sink otherwise'
live\t'The live sink: each input relayed to the listeners of its URL'
file\t'The file sink: each input written into the first read directory'"
complete -c httpout -l hold -d 'Hold input until the first client connects (live sink)' -r
complete -c httpout -l reopen -d 'Accept requests on an input already sent while it is not over (live sink)' -r
complete -c httpout -l quit -d 'Exit once all inputs are done and clients have disconnected' -r
complete -c httpout -l ice -d 'Insert ICE meta-data in response headers (live sink)' -r
complete -c httpout -l max_async_buf -d 'How far a live listener may fall behind before it is dropped: bytes (`512K`) or seconds of media (`10s`)' -r
complete -c httpout -l burst -d 'What a new live listener gets at once from before the live point: bytes (`64K`) or seconds of media (`2s`); 0 for none' -r
complete -c httpout -l batch -d 'Milliseconds of frames a live stream gathers before listeners are sent them, in one write each: lower for less latency, higher for less CPU per listener' -r
complete -c httpout -l source_password -d 'Password of HTTP source clients (user `source`, PUT/POST/SOURCE to a mount); enables live ingest over HTTP' -r
complete -c httpout -l admin_password -d 'Password of the live sink\'s admin API (Icecast\'s `/admin/...`, Basic with --admin_user); the API is off without it' -r
complete -c httpout -l admin_user -d 'User name of the live sink\'s admin API' -r
complete -c httpout -l master -d 'Relay every mount of an Icecast or httpout master, `http://USER:PASSWORD@HOST:PORT` (its admin credentials), and follow new ones' -r
complete -c httpout -l master_interval -d 'Seconds between two reads of the master\'s mount list' -r
complete -c httpout -l rt -d 'Send live file inputs at their media rate (MP3/ADTS frame durations, TS PCR, else `rate`)' -r
complete -c httpout -l rate -d 'Bit rate of live inputs whose format gives no timing (bits/s, e.g. 128k); used by `rt` and by seconds in `burst`' -r
complete -c httpout -l metaint -d 'Audio bytes between in-band ICY metadata blocks for listeners sending `Icy-MetaData: 1`; 0 disables' -r
complete -c httpout -l title -d 'Initial stream title of live mounts (ICY `StreamTitle`), until a source updates it' -r
complete -c httpout -l ice_hdr -d 'Extra ICE value for live listeners, `NAME=VALUE` (also written `--ice-NAME=VALUE`): sent as `icy-NAME`' -r
complete -c httpout -l mount -d 'Settings of one live mount, `PATH:KEY=VALUE[:KEY=VALUE...]` (repeatable): fallback, fallback_override, max_listeners, intro, user, password, burst, max_async_buf, hidden, public, name, genre, description, url, charset, dump_file, on_connect, on_disconnect, auth_url' -r
complete -c httpout -l ext -d 'Extension of the input, regardless of its file name (sets the served media type)' -r
complete -c httpout -l mime -d 'Media type of the input (live sink `Content-Type`, and how it is framed and paced)' -r
complete -c httpout -l exec -d 'Source mode: a shell command run per upload, the body on its stdin (`201` on exit 0, else `502`)' -r
complete -c httpout -l exec_max -d 'Source mode: commands of `--exec` running at once (0 = the number of cores); later uploads wait, up to 4 per slot, then `503`' -r
complete -c httpout -l dst -d 'Location of the destination resource (push mode); `URL1,URL2`: each destination gets every file on its own (redundant ingest)' -r
complete -c httpout -l post -d 'Use POST instead of PUT for uploads (push mode)' -r
complete -c httpout -l ka -d 'Keep the input alive when an upload fails (push mode)' -r
complete -c httpout -l cte -d 'Use chunked transfer-encoding when possible (push mode)' -r
complete -c httpout -l watch -d 'Push mode: after pushing a directory, follow it and push files as they are written' -r
complete -c httpout -l delete -d 'Push mode: delete the remote copy of a pushed file removed locally (with `watch`)' -r
complete -c httpout -l cafile -d 'Push mode: extra trusted CA certificates (PEM) besides the system\'s' -r -F
complete -c httpout -l jobs -d 'Push mode: uploads of complete files at once, at most' -r
complete -c httpout -l user_agent -d 'User agent of the push client' -r
complete -c httpout -l blockio -d 'GPAC\'s blocking-IO switch. Not supported: httpout\'s I/O is always asynchronous' -r
complete -c httpout -l js -d 'GPAC\'s JavaScript request hook. Not supported: embed httpout-core as a library instead' -r
complete -c httpout -l config -d 'TOML file of options (same names; `[[pair]]` tables for `-i`/`-o`); `HTTPOUT_<OPTION>` variables and the command line override it' -r -F
complete -c httpout -l print-config -d 'Print the effective settings (as a config file, each with where it came from) and exit'
complete -c httpout -s h -l help -d 'Print help (see more with \'--help\')'
complete -c httpout -s V -l version -d 'Print version'
