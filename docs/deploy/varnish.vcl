# Varnish edge in front of one httpout origin serving live DASH/HLS
# (low-latency: segments are served while the packager uploads them).
# Tested as is by crates/httpout/tests/edge.rs and measured by bench/edge.sh;
# docs/deploy/README.md explains it and gives the figures.
#
# Placeholders, replaced before use (the test and the bench do it with sed):
#   @ORIGIN_HOST@  the origin's address            (e.g. 10.0.0.5)
#   @ORIGIN_PORT@  the origin's port               (e.g. 8080)
# Run (Varnish 7.1, Debian's `varnish`):
#   varnishd -F -a :80 -f /etc/varnish/httpout.vcl -s malloc,1g
# (as root without a `varnish` user, or in a container: add `-j none`).
vcl 4.1;

backend origin {
    .host = "@ORIGIN_HOST@";
    .port = "@ORIGIN_PORT@";
    .connect_timeout = 2s;
    # httpout holds a GET for a segment not uploaded yet (`--wait_new=MS`,
    # players ask for the next LL-DASH segment early): wait longer than that
    # for the first byte.
    .first_byte_timeout = 10s;
    # A growing segment arrives one fragment (a frame or a few) at a time:
    # a gap of seconds means the packager is gone. The fetch then fails and
    # the object is dropped (see vcl_backend_error), never cached truncated.
    .between_bytes_timeout = 5s;
}

sub vcl_recv {
    # The edge is read-only: packagers upload to the origin itself.
    # OPTIONS (CORS preflights) go to the origin uncached.
    if (req.method == "OPTIONS") {
        return (pass);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (synth(405));
    }
    # Cache keyed by the full URL, query included (vcl_hash below): LL-HLS
    # blocking reloads (`live.m3u8?_HLS_msn=12&_HLS_part=3`) are distinct
    # objects, and every player asking for the same one waits on the same
    # fetch. Nothing here strips or sorts the query.
    #
    # Request collapsing: a request for an object being fetched (a "busy"
    # object) waits on that object's waiting list instead of going to the
    # origin; with streaming (vcl_backend_response) the waiters are woken as
    # soon as the response head is in and read the body as it arrives. So
    # 1 000 players asking for the segment being uploaded make ONE origin
    # request. Collapsing is lost when the object is marked uncacheable
    # (hit-for-miss, `beresp.uncacheable`) or when vcl_recv returns (pass):
    # then every request goes to the origin for as long as that marker lives
    # (2 minutes in the built-in VCL). See vcl_backend_response.
    #
    # Requests with Cookie or Authorization fall through to the built-in
    # vcl_recv, which passes them (no collapsing): players send neither;
    # strip cookies here if a site sets some on the player's domain.
}

sub vcl_hash {
    # The built-in hash: the URL with its query, and the Host. Spelt out so
    # that nobody "optimises" the query away.
    hash_data(req.url);
    if (req.http.host) {
        hash_data(req.http.host);
    } else {
        hash_data(server.ip);
    }
    return (lookup);
}

sub vcl_backend_response {
    # Stream the body to the client (and to every waiter) as it arrives
    # from the origin: a growing segment reaches players fragment by
    # fragment, not when its upload ends. (The default since Varnish 4;
    # spelt out because low latency depends on it.)
    set beresp.do_stream = true;

    # Errors: cached one second, so a missing segment asked by 1 000
    # players is one origin request per second, and a later upload is seen
    # soon. Never hit-for-miss: that would send every request to the origin.
    if (beresp.status >= 400) {
        set beresp.ttl = 1s;
        set beresp.grace = 0s;
        return (deliver);
    }

    # Something the origin says must not be stored (`no-store`, `private`):
    # honoured, but as a ONE-second hit-for-miss instead of the built-in two
    # minutes, so a single such answer does not switch collapsing off for
    # that URL for long. (httpout sends `no-store` for a growing file only
    # to HTTP/1.0 requesters, whose body ends with a close and so could be
    # cut unnoticed; Varnish fetches with HTTP/1.1 and a chunked body whose
    # end it checks.)
    if (beresp.http.Cache-Control ~ "(no-store|private)") {
        set beresp.uncacheable = true;
        set beresp.ttl = 1s;
        return (deliver);
    }

    if (bereq.url ~ "\.(mpd|m3u8)(\?|$)") {
        # Live manifests: the origin's `max-age` (1 s); at most 2 s here
        # whatever it says, 1 s when it says nothing. No grace: a player
        # must not get a manifest older than its TTL; while a new one is
        # fetched, requests wait on the waiting list (one origin request).
        if (!beresp.http.Cache-Control || beresp.ttl > 2s) {
            set beresp.ttl = 1s;
        }
        set beresp.grace = 0s;
    } else if (!beresp.http.Cache-Control && !beresp.http.Expires) {
        # Media and init segments never change once complete (the origin
        # marks them long + `immutable`): without a word from the origin,
        # keep them a minute (a live window is seconds to minutes; memory
        # is reclaimed LRU anyway).
        set beresp.ttl = 60s;
    }
    # Everything else keeps the TTL the origin's Cache-Control/Expires give
    # (Varnish reads `s-maxage`, `max-age`, `Expires`, less the `Age` it got).
    return (deliver);
}

sub vcl_backend_error {
    # The origin failed or went silent before the response head: a short
    # 503, not cached (a fetch that fails after the head was streamed, i.e.
    # a truncated chunked body, marks the object failed: it is removed, the
    # clients streaming it see their connection closed without the final
    # chunk, so no one, downstream cache included, takes it as complete).
    set beresp.ttl = 0s;
    set beresp.grace = 0s;
}

sub vcl_deliver {
    # `Age` (seconds the object has been here) is sent by Varnish itself:
    # players and browsers subtract it from `max-age`, so a manifest is not
    # kept 1 s here and another second downstream.
    # X-Cache tells a hit (a waiter on the waiting list counts as one) from
    # a miss, for debugging and for the test.
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
