//! Icecast's master/slave relaying (`--master=URL`): every
//! `--master_interval`, the master's `/admin/streamlist.txt` (one mount per
//! line) is read with the URL's credentials, and each mount not yet here
//! is relayed at the same path, as an `-i http://MASTER/MOUNT` input would
//! be (reconnecting, titles carried over). A mount missing from
//! [`GONE_AFTER`] lists in a row is let go: its relay stops and the mount
//! ends (its listeners move to its fallback, or end), as Icecast's slaves
//! drop the relays of mounts their master no longer has. At most
//! [`MAX_MOUNTS`] mounts are relayed.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};

use crate::hub::{Hub, Phase};
use crate::input::Input;
use crate::relay::redacted;
use crate::{LiveConfig, client};

/// The longest stream list read (a list of paths).
const MAX_LIST: usize = 1 << 20;
/// How long one read of the list may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);
/// Lists in a row a relayed mount may be missing from before it is let go.
pub(crate) const GONE_AFTER: u32 = 3;
/// Mounts of a master relayed at most.
pub(crate) const MAX_MOUNTS: usize = 1000;

/// A master server followed.
#[derive(Debug)]
pub struct Master {
    hub: Hub,
    config: LiveConfig,
    /// `http://USER:PASS@HOST:PORT`: the list and the mounts are asked
    /// for with these credentials (the client sends them as Basic ones).
    base: String,
    interval: Duration,
}

impl Master {
    /// Follows the master at `url` (`http://USER:PASS@HOST:PORT`), relaying
    /// its mounts into `hub`. The URL was checked by [`Master::check`].
    pub fn new(hub: Hub, config: LiveConfig, url: &str, interval: Duration) -> Self {
        Self {
            hub,
            config,
            base: url.trim_end_matches('/').to_owned(),
            interval,
        }
    }

    /// Checks a `--master` URL.
    pub fn check(url: &str) -> Result<(), String> {
        let expected = || "expected http://USER:PASSWORD@HOST:PORT (no path)".to_owned();
        let base = url.trim_end_matches('/');
        let host = base.strip_prefix("http://").ok_or_else(expected)?;
        if host.is_empty() || host.contains('/') {
            return Err(expected());
        }
        crate::relay::parse_url(&format!("{base}/"))
            .map(|_| ())
            .map_err(|_| expected())
    }

    /// Reads the master's list every interval and relays new mounts, until
    /// shutdown.
    pub async fn run(self) {
        // Per mount relayed: its relay's task, and the lists it was
        // missing from in a row.
        let mut relayed: HashMap<String, (tokio::task::JoinHandle<()>, u32)> = HashMap::new();
        let mut full_said = false;
        loop {
            match self.list().await {
                Ok(mounts) => {
                    for (mount, (task, missing)) in &mut relayed {
                        *missing = if mounts.contains(mount) {
                            0
                        } else {
                            *missing + 1
                        };
                        if *missing >= GONE_AFTER {
                            task.abort();
                        }
                    }
                    relayed.retain(|mount, (_, missing)| {
                        let gone = *missing >= GONE_AFTER;
                        if gone {
                            tracing::info!(target: "httpout::live", "master: {mount} is gone, its relay stops");
                            if let Some(s) = self.hub.get(mount) {
                                s.set_phase(Phase::Ended);
                            }
                        }
                        !gone
                    });
                    for mount in mounts {
                        if relayed.contains_key(&mount) || self.hub.get(&mount).is_some() {
                            continue;
                        }
                        if relayed.len() >= MAX_MOUNTS {
                            if !std::mem::replace(&mut full_said, true) {
                                tracing::warn!(
                                    target: "httpout::live",
                                    "master: {MAX_MOUNTS} mounts relayed already; more are not"
                                );
                            }
                            break;
                        }
                        let source = format!("{}{mount}", self.base);
                        let input = Input::declare(&self.hub, &self.config, &source, &mount);
                        tracing::info!(target: "httpout::live", "master: relaying {}", redacted(&source));
                        relayed.insert(mount, (tokio::spawn(input.run()), 0));
                    }
                }
                Err(e) => tracing::warn!(
                    target: "httpout::live",
                    "master {}: {e}; trying again in {} s",
                    redacted(&self.base),
                    self.interval.as_secs()
                ),
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    /// The mounts the master lists.
    async fn list(&self) -> Result<Vec<String>, String> {
        let full = format!("{}/admin/streamlist.txt", self.base);
        let url = redacted(&full);
        let uri: Uri = full.parse().map_err(|_| format!("bad URL {url}"))?;
        let req = Request::get(uri.path())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let read = async {
            let res = client::send(&uri, req).await.map_err(|e| e.to_string())?;
            if res.status() != StatusCode::OK {
                return Err(format!("{url} answered {}", res.status()));
            }
            let body = Limited::new(res.into_body(), MAX_LIST)
                .collect()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            Ok(body.to_bytes())
        };
        let body = tokio::time::timeout(LIST_TIMEOUT, read)
            .await
            .map_err(|_| format!("{url} did not answer within {LIST_TIMEOUT:?}"))??;
        Ok(parse_list(&String::from_utf8_lossy(&body)))
    }
}

/// The mount paths of a `streamlist.txt`.
fn parse_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/') && l.len() > 1 && !l.contains([' ', '?', '#']))
        .filter(|l| !l.split('/').any(|s| s == ".."))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_urls_and_lists() {
        assert!(Master::check("http://admin:s%40cret@radio.example:8000/").is_ok());
        assert!(Master::check("http://radio.example:8000").is_ok());
        assert!(Master::check("http://radio.example:8000/live.mp3").is_err());
        assert!(Master::check("https://radio.example").is_err());
        assert_eq!(
            parse_list("/a.mp3\n/b.aac\r\nnot a mount\n/../x\n/c d\n"),
            ["/a.mp3", "/b.aac"]
        );
    }
}
