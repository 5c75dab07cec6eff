//! Issue 12, item 12: the failed sign-in limits over real sockets. The
//! attacker is 127.0.0.2, the users 127.0.0.1 (and 127.0.0.2 behind the
//! same "NAT"). Failures count per (address, name) and per address; public
//! paths never need credentials; a right password gets through an
//! address's lock. Every wait is bounded.

mod auth_common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use auth_common::{get, guesses};
use httpout_core::auth::{ADDRESS_FAILURES, USER_FAILURES};
use httpout_test::bounded;

const USER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A server where `/pub/` is open and `/priv/` is for alice and bob.
async fn server() -> (httpout_core::Running, SocketAddr, tempfile::TempDir) {
    auth_common::server(
        "[pub]\nname=pub\n[priv]\nname=priv\nru=alice,bob\n",
        &[("alice", "s3cret"), ("bob", "hunter2")],
    )
    .await
}

fn count(statuses: &[u16], code: u16) -> usize {
    statuses.iter().filter(|&&s| s == code).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_count_as_they_start_and_lock_one_name_at_one_address() {
    let (_server, addr, _dir) = server().await;
    // 200 guesses of alice's password at once: ten are checked, the others
    // refused before any check (before: all 200 checked, no 429).
    let statuses = guesses(addr, &[ATTACKER], 200, |_| "alice".to_owned()).await;
    assert_eq!(
        count(&statuses, 401),
        USER_FAILURES as usize,
        "{statuses:?}"
    );
    assert_eq!(count(&statuses, 429), 200 - USER_FAILURES as usize);
    // During the lock: public paths are served, with or without credentials.
    assert_eq!(bounded(get(addr, ATTACKER, "/pub/a", None)).await, 200);
    let wrong = Some(("alice", "nope"));
    assert_eq!(bounded(get(addr, ATTACKER, "/pub/a", wrong)).await, 200);
    // Another name from the same address is checked; alice from another
    // address signs in.
    let bob = Some(("bob", "hunter2"));
    assert_eq!(bounded(get(addr, ATTACKER, "/priv/a", bob)).await, 200);
    let alice = Some(("alice", "s3cret"));
    assert_eq!(bounded(get(addr, USER, "/priv/a", alice)).await, 200);
    // And once signed in, her password opens even from the locked address.
    assert_eq!(bounded(get(addr, ATTACKER, "/priv/a", alice)).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_password_gets_through_an_address_lock() {
    let (_server, addr, _dir) = server().await;
    // Spraying many names locks the address...
    let n = ADDRESS_FAILURES as usize;
    let statuses = guesses(addr, &[ATTACKER], n, |i| format!("user{i}")).await;
    assert_eq!(count(&statuses, 401), n, "{statuses:?}");
    // ...which slows its checks (one at a time, each after a second) but
    // refuses none: a user behind the same address signs in.
    let started = std::time::Instant::now();
    let bob = Some(("bob", "hunter2"));
    assert_eq!(bounded(get(addr, ATTACKER, "/priv/a", bob)).await, 200);
    assert!(started.elapsed() >= httpout_core::auth::SLOW_DELAY);
    // A wrong one is checked too (401, not 429), and public paths are served.
    let wrong = Some(("carol", "x"));
    assert_eq!(bounded(get(addr, ATTACKER, "/priv/a", wrong)).await, 401);
    assert_eq!(bounded(get(addr, ATTACKER, "/pub/a", None)).await, 200);
    // Other addresses are not slowed.
    let alice = Some(("alice", "s3cret"));
    assert_eq!(bounded(get(addr, USER, "/priv/a", alice)).await, 200);
}
