//! Property tests of what the handler helpers and routes parse from client
//! input: query strings (`Fields::from_query`: a 400 or pairs, never a
//! panic; encoded text round-trips) and path patterns (captures are whole
//! decoded segments, whatever the path holds).
//!
//! `cargo test -p httpout-core --test fuzz_form`.

use http::Request;
use httpout_core::form::Fields;
use httpout_core::router::Params;
use httpout_core::{Body, Ctx, Error, Handler, Router, SafePath};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

/// The pieces query strings are made of.
const PIECES: &[&str] = &[
    "&", "&", "=", "=", "+", "%", "%2", "%26", "%3D", "%2B", "%20", "%ff", "%c3%a9", "a", "b", "é",
    "%zz", ";", "?",
];

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(PIECES), 0..32).prop_map(|p| p.concat()),
        // Printable ASCII but `#`, which would start a fragment.
        1 => "[!-\"$-~]*",
    ]
}

/// A query string that is a valid URI component.
fn request(query: &str) -> Option<Request<()>> {
    Request::get(format!("/x?{query}")).body(()).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    /// Any query string parses or is a 400, never a panic; and what is
    /// parsed has no `&` left unsplit.
    #[test]
    fn query_strings_parse_or_are_a_400(q in query()) {
        if let Some(req) = request(&q) {
            match Fields::from_query(&req) {
                Ok(fields) => {
                    let raw_pairs = q.split('&').filter(|p| !p.is_empty()).count();
                    prop_assert_eq!(fields.iter().count(), raw_pairs);
                }
                Err(e) => prop_assert_eq!(e.status(), 400),
            }
        }
    }

    /// Encoded names and values come back as they were.
    #[test]
    fn encoded_pairs_round_trip(pairs in prop::collection::vec((".{0,12}", ".{0,12}"), 0..6)) {
        let q: Vec<String> = pairs
            .iter()
            .map(|(n, v)| {
                format!("{}={}", utf8_percent_encode(n, NON_ALPHANUMERIC), utf8_percent_encode(v, NON_ALPHANUMERIC))
            })
            .collect();
        let req = request(&q.join("&")).unwrap();
        let fields = Fields::from_query(&req).unwrap();
        let got: Vec<(String, String)> = fields.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(got, pairs);
    }

    /// A pattern captures exactly one whole decoded segment per `{name}`.
    #[test]
    fn captures_are_whole_segments(segs in prop::collection::vec("[^/]{1,8}", 1..5)) {
        let Ok(path) = SafePath::from_segments(segs.clone()) else { return Ok(()) };
        let pattern: String = (0..segs.len()).map(|i| format!("/{{s{i}}}")).collect();
        let router = Router::new().route(&pattern, echo_params);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let ctx = Ctx {
            peer: None,
            tls: false,
            path: path.clone(),
            mount: SafePath::root(),
            user: None,
            metrics: std::sync::Arc::new(httpout_core::Metrics::new()),
        };
        let res = rt.block_on(router.handle(Request::new(Body::empty()), ctx)).unwrap();
        let got = res.headers()["x-params"].to_str().unwrap().to_owned();
        let want: Vec<String> = path.segments().iter().map(|s| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()).collect();
        prop_assert_eq!(got, want.join("/"));
    }
}

/// Answers with the captures, encoded, in an `x-params` header.
async fn echo_params(req: Request<Body>, _ctx: Ctx) -> Result<http::Response<Body>, Error> {
    let values: Vec<String> = Params::of(&req)
        .iter()
        .map(|(_, v)| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string())
        .collect();
    let mut res = http::Response::new(Body::empty());
    res.headers_mut()
        .insert("x-params", values.join("/").parse().unwrap());
    Ok(res)
}
