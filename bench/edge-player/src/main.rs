//! `edge-player BASE MPD_PATH PLAYERS SEGMENTS USER_AGENT SECONDS`: plays
//! PLAYERS simulated LL-DASH players (see `httpout_test::player`) at
//! `BASE` (`http://127.0.0.1:PORT`) for SEGMENTS segments each, at most
//! SECONDS, and prints every fetch as a tab-separated line
//! (`httpout_test::player::tsv`). `bench/edge.sh` runs it.

use std::time::Duration;

use httpout_test::player::{self, PlayerConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, mpd, players, segments, ua, secs] = args.as_slice() else {
        eprintln!("usage: edge-player BASE MPD_PATH PLAYERS SEGMENTS USER_AGENT SECONDS");
        std::process::exit(2);
    };
    let number = |s: &str| -> u64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("edge-player: {s} is not a number");
            std::process::exit(2)
        })
    };
    let config = PlayerConfig {
        base: base.clone(),
        mpd_path: mpd.clone(),
        user_agent: ua.clone(),
        segments: number(segments),
        manifest_every: Duration::from_secs(2),
        request_limit: Duration::from_secs(15),
        deadline: player::now() + number(secs) as f64,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let all = runtime.block_on(player::play_many(&config, number(players) as usize));
    let mut out = String::new();
    for (i, fetches) in all.iter().enumerate() {
        let who = format!("{ua}/{i}");
        for f in fetches {
            out.push_str(&player::tsv(&who, f));
            out.push('\n');
        }
    }
    print!("{out}");
}
