//! The registry's bounds and expiry, in virtual time.

use std::sync::Arc;
use std::time::Duration;

use httpout_core::Body;

use super::*;

fn site(dir: &std::path::Path, resumable: &Arc<Resumable>) -> WriteSite {
    let config = crate::StaticConfig {
        resumable: crate::Resumables(Arc::clone(resumable)),
        maxs: 1000,
        ..Default::default()
    };
    WriteSite::new(
        httpout_store::WriteRoot::new(dir).unwrap(),
        &config,
        1000,
        None,
        false,
    )
}

fn new(name: &str, length: Option<u64>) -> NewUpload {
    NewUpload {
        dirs: vec!["d".into()],
        name: name.into(),
        url: format!("/d/{name}"),
        length,
        protocol: Protocol::Tus,
        metadata: None,
        user: None,
        claim: None,
    }
}

/// A tus-style append at offset 0.
fn append(declared: Option<u64>) -> Append {
    Append {
        offset: 0,
        complete: None,
        length: None,
        declared,
        checksum: None,
    }
}

fn entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("d")).map_or(0, |d| d.count())
}

/// An upload idle for `resume_ttl` is removed by the timer (its
/// temporary file and state), one that is not yet is kept.
#[tokio::test(start_paused = true)]
async fn idle_uploads_expire_on_the_timer() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Resumable::new("/.uploads/", Duration::from_secs(100), 10_000).unwrap();
    let site = site(dir.path(), &reg);
    site.attach_resumable();
    let up = reg.create(&site, new("a", Some(10))).unwrap();
    let id = up.record().id;
    assert_eq!(entries(dir.path()), 2, "temporary file and state");
    tokio::time::sleep(Duration::from_secs(60)).await;
    let append = append(Some(4));
    let done = up.append(append, Body::full("abcd")).await.unwrap();
    assert_eq!(
        done,
        Appended {
            offset: 4,
            done: None
        }
    );
    // 60 s after the append, 120 s after creation: kept.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(reg.get(id).unwrap().state, UploadState::Suspended);
    tokio::time::sleep(Duration::from_secs(70)).await;
    let snap = reg.get(id).expect("remembered after it ended");
    assert_eq!(snap.state, UploadState::Aborted("expired"));
    assert_eq!(snap.offset, 4);
    assert_eq!(entries(dir.path()), 0, "both files removed");
}

/// A discarded upload still in the registry (between its files' removal
/// and its removal from the map, which the sweep does next) is not an
/// upload for HEAD: before, the missing temporary file read as complete,
/// and a HEAD in that window answered its offset.
#[tokio::test]
async fn a_discarded_upload_has_no_offset() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Resumable::new("/.uploads/", Duration::from_secs(100), 10_000).unwrap();
    let site = site(dir.path(), &reg);
    site.attach_resumable();
    let up = reg.create(&site, new("a", Some(10))).unwrap();
    up.append(append(Some(4)), Body::full("abcd"))
        .await
        .unwrap();
    assert_eq!(up.offset().await.unwrap(), (4, Some(10), false));
    assert!(up.discard("expired", true).await);
    assert!(matches!(up.offset().await, Err(ResumeError::NotFound)));
}

/// The budget and `maxs` bound creations; an ended upload gives its
/// bytes back.
#[tokio::test]
async fn creations_are_bounded_by_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Resumable::new("/.uploads/", Duration::from_secs(100), 1500).unwrap();
    let site = site(dir.path(), &reg);
    site.attach_resumable();
    assert!(matches!(
        reg.create(&site, new("big", Some(1001))),
        Err(ResumeError::TooLarge { limit: 1000 })
    ));
    let a = reg.create(&site, new("a", None)).unwrap();
    assert!(matches!(
        reg.create(&site, new("b", Some(600))),
        Err(ResumeError::OverBudget { budget: 1500 })
    ));
    let b = reg.create(&site, new("b", Some(500))).unwrap();
    assert!(a.discard("cancelled", false).await);
    reg.ended(a.record().id);
    reg.create(&site, new("c", Some(900))).unwrap();
    // A complete upload is renamed into place.
    let append = append(None);
    let done = reg
        .first_append(&b, append, Body::full(vec![7u8; 500]))
        .await
        .unwrap();
    assert_eq!(done.done, Some(false));
    assert_eq!(
        std::fs::read(dir.path().join("d/b")).unwrap(),
        vec![7u8; 500]
    );
    assert_eq!(reg.get(b.record().id).unwrap().state, UploadState::Complete);
}

/// A restart finds the upload, cut back to its recorded offset.
#[tokio::test]
async fn a_restart_resumes_at_the_recorded_offset() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Resumable::new("/.uploads/", Duration::from_secs(100), 10_000).unwrap();
    let site1 = site(dir.path(), &reg);
    site1.attach_resumable();
    let up = reg.create(&site1, new("a", Some(10))).unwrap();
    let id = up.record().id;
    let append = append(None);
    up.append(append, Body::full("abc")).await.unwrap();
    // Bytes written but never recorded, as a crash mid-request leaves them.
    let part = dir.path().join("d").join(state::part_name(id));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&part)
        .unwrap();
    std::io::Write::write_all(&mut f, b"zz").unwrap();
    drop((up, reg, site1));
    let reg = Resumable::new("/.uploads/", Duration::from_secs(100), 10_000).unwrap();
    let site2 = site(dir.path(), &reg);
    site2.attach_resumable();
    let snap = reg.get(id).expect("resumed");
    assert_eq!((snap.offset, snap.length), (3, Some(10)));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 3, "cut back");
}
