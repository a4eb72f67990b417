//! Every version of every list, kept in the data directory: `watchlists/<list>/v<N>/` holds the
//! files as fetched, `watchlists/<list>/state.json` the versions (fetch time, SHA-256, entry
//! count, or the error that made a version unusable), which one is active, the validators for
//! conditional GET and the last refresh.
//!
//! A new version becomes active only when it parses; a malformed one is kept for inspection, its
//! error (file, line, field) recorded, and the last good version stays active.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::{Entry, ListError, ListFile, ListKind, file_names, parse};
use crate::config::WatchlistConfig;
use crate::fetch::{FetchError, FetchRequest, Fetcher, Purpose};

/// One file of a stored version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

/// One fetched version of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub number: u32,
    pub fetched_at: DateTime<Utc>,
    /// SHA-256 over the files' names and hashes, in order.
    pub sha256: String,
    pub files: Vec<FileInfo>,
    /// Entries read; `None` for a malformed version.
    pub entries: Option<usize>,
    /// Why the version is not usable (file, line, field), if it is not.
    pub error: Option<String>,
}

/// Conditional-GET validators of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What the store knows about one list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListState {
    pub kind: Option<ListKind>,
    pub versions: Vec<Version>,
    /// The number of the version in use.
    pub active: Option<u32>,
    pub validators: BTreeMap<String, Validators>,
    pub last_refresh: Option<DateTime<Utc>>,
    /// The last refresh's error (fetch or parse), cleared by a good refresh.
    pub last_error: Option<String>,
}

impl ListState {
    pub fn active_version(&self) -> Option<&Version> {
        let n = self.active?;
        self.versions.iter().find(|v| v.number == n)
    }
}

/// What storing a fetched version did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// The same bytes as the latest version: nothing new.
    Unchanged,
    /// A new version, now active.
    New { number: u32, entries: usize },
    /// A new version that does not parse; the previous good one stays active.
    Malformed { number: u32, error: ListError },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: the list state is unreadable ({error}); move it away to start afresh")]
    State { path: String, error: String },
    #[error("list `{list}`: {error}")]
    Fetch { list: String, error: String },
    #[error("list `{list}`: {error}")]
    Config { list: String, error: String },
    #[error(transparent)]
    List(#[from] ListError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// The lists' directory under the data directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// A directory name for a list name: letters, digits, `-`, `_`, `.` kept, the rest `_`.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() { "_".into() } else { s }
}

fn hex_sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Store {
    pub fn new(data_dir: &Path) -> Store {
        Store {
            dir: data_dir.join("watchlists"),
        }
    }

    fn list_dir(&self, list: &str) -> PathBuf {
        self.dir.join(slug(list))
    }

    pub fn state(&self, list: &str) -> Result<ListState, StoreError> {
        let path = self.list_dir(list).join("state.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::State {
                path: path.display().to_string(),
                error: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ListState::default()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn save(&self, list: &str, state: &ListState) -> Result<(), StoreError> {
        let dir = self.list_dir(list);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        let body = serde_json::to_vec_pretty(state).map_err(|e| StoreError::State {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        std::fs::write(&tmp, body).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// The files of a stored version.
    pub fn files(&self, list: &str, version: &Version) -> Result<Vec<ListFile>, StoreError> {
        let dir = self.list_dir(list).join(format!("v{}", version.number));
        version
            .files
            .iter()
            .map(|f| {
                let path = dir.join(&f.name);
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                Ok(ListFile {
                    name: f.name.clone(),
                    bytes,
                })
            })
            .collect()
    }

    /// The entries of the active version, if there is one.
    pub fn load_active(
        &self,
        list: &str,
        kind: ListKind,
    ) -> Result<Option<Vec<Entry>>, StoreError> {
        let state = self.state(list)?;
        let Some(v) = state.active_version() else {
            return Ok(None);
        };
        let files = self.files(list, v)?;
        Ok(Some(parse(kind, &files)?))
    }

    /// Keeps a fetched version: a new version directory unless the bytes are those of the
    /// latest version; active when it parses.
    pub fn store(
        &self,
        list: &str,
        kind: ListKind,
        files: Vec<ListFile>,
        fetched_at: DateTime<Utc>,
        validators: BTreeMap<String, Validators>,
    ) -> Result<Stored, StoreError> {
        let mut state = self.state(list)?;
        state.kind = Some(kind);
        state.last_refresh = Some(fetched_at);
        let infos: Vec<FileInfo> = files
            .iter()
            .map(|f| FileInfo {
                name: f.name.clone(),
                sha256: hex_sha(&f.bytes),
                bytes: f.bytes.len() as u64,
            })
            .collect();
        let mut h = Sha256::new();
        for f in &infos {
            h.update(f.name.as_bytes());
            h.update(b"\0");
            h.update(f.sha256.as_bytes());
            h.update(b"\n");
        }
        let sha256 = hex::encode(h.finalize());
        if state.versions.last().is_some_and(|v| v.sha256 == sha256) {
            let malformed = state.versions.last().and_then(|v| v.error.clone());
            state.last_error = malformed;
            state.validators = validators;
            self.save(list, &state)?;
            return Ok(Stored::Unchanged);
        }
        let number = state.versions.last().map(|v| v.number + 1).unwrap_or(1);
        let dir = self.list_dir(list).join(format!("v{number}"));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        for f in &files {
            let path = dir.join(&f.name);
            std::fs::write(&path, &f.bytes).map_err(io(&path))?;
        }
        let parsed = parse(kind, &files);
        let (entries, error) = match &parsed {
            Ok(e) => (Some(e.len()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        state.versions.push(Version {
            number,
            fetched_at,
            sha256,
            files: infos,
            entries,
            error: error.clone(),
        });
        state.last_error = error;
        // Validators of a malformed version are not kept: the next refresh fetches in full.
        if parsed.is_ok() {
            state.active = Some(number);
            state.validators = validators;
        }
        self.save(list, &state)?;
        Ok(match parsed {
            Ok(e) => Stored::New {
                number,
                entries: e.len(),
            },
            Err(error) => Stored::Malformed { number, error },
        })
    }

    fn note_error(&self, list: &str, error: &str) -> Result<(), StoreError> {
        let mut state = self.state(list)?;
        state.last_error = Some(error.to_string());
        state.last_refresh = Some(Utc::now());
        self.save(list, &state)
    }
}

/// Where a list's files are: on the web (fetched politely) or on disk (operators' copies).
enum Location {
    Web(url::Url),
    Disk(PathBuf),
}

fn locate(url: &str) -> Result<Location, String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Location::Web(u)),
        Ok(u) if u.scheme() == "file" => u
            .to_file_path()
            .map(Location::Disk)
            .map_err(|_| format!("`{url}` is not a file path")),
        // A Windows drive letter parses as a scheme; anything else is a path.
        _ => Ok(Location::Disk(PathBuf::from(url))),
    }
}

/// A file beside `primary` by its standard name, in whatever letter case the directory has it.
fn sibling_on_disk(primary: &Path, name: &str) -> Option<PathBuf> {
    let dir = primary
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let exact = dir.join(name);
    if exact.exists() {
        return Some(exact);
    }
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(name))
        .map(|e| e.path())
}

/// Fetches one list (every file, conditional GET where a good version is stored) and stores
/// what changed. Errors are also recorded in the list's state.
pub async fn refresh(
    store: &Store,
    fetcher: &Fetcher,
    list: &WatchlistConfig,
    cancel: &CancellationToken,
) -> Result<Stored, StoreError> {
    let result = fetch_files(store, fetcher, list, cancel).await;
    match result {
        Ok((files, validators)) => {
            let stored = store.store(&list.name, list.kind, files, Utc::now(), validators)?;
            if let Stored::Malformed { error, .. } = &stored {
                tracing::warn!(list = %list.name, %error, "new list version is malformed; the last good version stays active");
            }
            Ok(stored)
        }
        Err(e) => {
            let _ = store.note_error(&list.name, &e.to_string());
            Err(e)
        }
    }
}

async fn fetch_files(
    store: &Store,
    fetcher: &Fetcher,
    list: &WatchlistConfig,
    cancel: &CancellationToken,
) -> Result<(Vec<ListFile>, BTreeMap<String, Validators>), StoreError> {
    let cfg_err = |error: String| StoreError::Config {
        list: list.name.clone(),
        error,
    };
    let names = file_names(list.kind, &list.url).map_err(cfg_err)?;
    let state = store.state(&list.name)?;
    let active = match state.active_version() {
        Some(v) => Some((v.clone(), store.files(&list.name, v)?)),
        None => None,
    };
    let mut files = Vec::new();
    let mut validators = BTreeMap::new();
    match locate(&list.url).map_err(cfg_err)? {
        Location::Disk(primary) => {
            for (i, (name, required)) in names.iter().enumerate() {
                let path = if i == 0 {
                    Some(primary.clone())
                } else {
                    sibling_on_disk(&primary, name)
                };
                match path {
                    Some(p) => {
                        let bytes = std::fs::read(&p).map_err(io(&p))?;
                        files.push(ListFile {
                            name: name.clone(),
                            bytes,
                        });
                    }
                    None if *required => {
                        return Err(StoreError::Fetch {
                            list: list.name.clone(),
                            error: format!("{name} is not beside {}", primary.display()),
                        });
                    }
                    None => {}
                }
            }
        }
        Location::Web(primary) => {
            for (i, (name, required)) in names.iter().enumerate() {
                let url = if i == 0 {
                    primary.clone()
                } else {
                    primary.join(name).map_err(|e| cfg_err(e.to_string()))?
                };
                // Validators only while a good version can stand in for a 304.
                let old = active
                    .as_ref()
                    .and_then(|(_, fs)| fs.iter().find(|f| &f.name == name));
                let v = old
                    .and_then(|_| state.validators.get(name))
                    .cloned()
                    .unwrap_or_default();
                let req = FetchRequest {
                    url: url.clone(),
                    purpose: Purpose::Watchlist,
                    etag: v.etag.clone(),
                    last_modified: v.last_modified.clone(),
                };
                match fetcher.fetch(&req, cancel).await {
                    Ok(f) if f.not_modified => {
                        if let Some(old) = old {
                            files.push(old.clone());
                            validators.insert(name.clone(), v);
                        }
                    }
                    Ok(f) => {
                        validators.insert(
                            name.clone(),
                            Validators {
                                etag: f.etag.clone(),
                                last_modified: f.last_modified.clone(),
                            },
                        );
                        files.push(ListFile {
                            name: name.clone(),
                            bytes: f.body.to_vec(),
                        });
                    }
                    Err(FetchError::Http { status: 404, .. }) if !required => {}
                    Err(e) => {
                        return Err(StoreError::Fetch {
                            list: list.name.clone(),
                            error: format!("{url}: {e}"),
                        });
                    }
                }
            }
        }
    }
    Ok((files, validators))
}

/// Loads every configured list's active version, refreshing (fetching) a list that has none yet
/// when `fetcher` is given. Lists that cannot be loaded are reported in the second value.
pub async fn load_all(
    store: &Store,
    fetcher: Option<&Fetcher>,
    lists: &[WatchlistConfig],
    cancel: &CancellationToken,
) -> (Vec<(String, Vec<Entry>)>, Vec<StoreError>) {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for list in lists {
        let mut entries = store.load_active(&list.name, list.kind);
        if matches!(entries, Ok(None))
            && let Some(fetcher) = fetcher
        {
            entries = match refresh(store, fetcher, list, cancel).await {
                Ok(Stored::Malformed { error, .. }) => Err(StoreError::List(error)),
                Ok(_) => store.load_active(&list.name, list.kind),
                Err(e) => Err(e),
            };
        }
        match entries {
            Ok(Some(e)) => loaded.push((list.name.clone(), e)),
            Ok(None) => errors.push(StoreError::Fetch {
                list: list.name.clone(),
                error: "no version stored yet".into(),
            }),
            Err(e) => errors.push(e),
        }
    }
    (loaded, errors)
}

/// Loads the stored lists into `slot` (fetching those never fetched), then refreshes each list
/// when its `refresh` interval has passed since its last refresh, swapping in a new matcher after
/// any new version, until `stop`.
pub async fn run(
    store: Store,
    fetcher: Fetcher,
    lists: Vec<WatchlistConfig>,
    slot: crate::analyze::WatchlistSlot,
    stop: CancellationToken,
) {
    if lists.is_empty() {
        return;
    }
    loop {
        let now = Utc::now();
        let mut changed = false;
        let mut next = now + chrono::Duration::hours(24);
        for list in &lists {
            let every = chrono::Duration::from_std(list.refresh.0)
                .unwrap_or_else(|_| chrono::Duration::hours(24));
            let last = store.state(&list.name).ok().and_then(|s| s.last_refresh);
            let due = last.map(|t| t + every).unwrap_or(now);
            if due <= now {
                match refresh(&store, &fetcher, list, &stop).await {
                    Ok(Stored::New { number, entries }) => {
                        tracing::info!(list = %list.name, version = number, entries, "new list version");
                        changed = true;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(list = %list.name, error = %e, "list not refreshed"),
                }
                next = next.min(Utc::now() + every);
            } else {
                next = next.min(due);
            }
            if stop.is_cancelled() {
                return;
            }
        }
        let empty = slot.read().map(|m| m.is_none()).unwrap_or(true);
        if changed || empty {
            let (loaded, errors) = load_all(&store, None, &lists, &stop).await;
            for e in errors {
                tracing::warn!(error = %e, "list not loaded");
            }
            let matcher = super::Matcher::new(loaded);
            tracing::info!(
                lists = matcher.lists().len(),
                entries = matcher.len(),
                "restricted-party lists in force"
            );
            if let Ok(mut s) = slot.write() {
                *s = Some(std::sync::Arc::new(matcher));
            }
        }
        let wait = (next - Utc::now())
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(1))
            .max(std::time::Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// The lists stored for `lists` (no fetching) as a matcher; `None` when none is stored.
pub fn load_stored(store: &Store, lists: &[WatchlistConfig]) -> Option<super::Matcher> {
    let mut loaded = Vec::new();
    for list in lists {
        match store.load_active(&list.name, list.kind) {
            Ok(Some(e)) => loaded.push((list.name.clone(), e)),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "list not loaded"),
        }
    }
    (!loaded.is_empty()).then(|| super::Matcher::new(loaded))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDN: &str = "1,\"ACME TRADING CO\",-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n";

    fn files(sdn: &str) -> Vec<ListFile> {
        vec![
            ListFile {
                name: "SDN.CSV".into(),
                bytes: sdn.as_bytes().to_vec(),
            },
            ListFile {
                name: "ALT.CSV".into(),
                bytes: Vec::new(),
            },
            ListFile {
                name: "ADD.CSV".into(),
                bytes: Vec::new(),
            },
        ]
    }

    #[test]
    fn versions_are_kept_and_a_malformed_one_is_not_activated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let now = Utc::now();
        let s = store
            .store("sdn", ListKind::OfacCsv, files(SDN), now, BTreeMap::new())
            .unwrap();
        assert_eq!(
            s,
            Stored::New {
                number: 1,
                entries: 1
            }
        );
        let s = store
            .store("sdn", ListKind::OfacCsv, files(SDN), now, BTreeMap::new())
            .unwrap();
        assert_eq!(s, Stored::Unchanged);
        let bad = format!("{SDN}x,\"B\",-0- \n");
        let s = store
            .store("sdn", ListKind::OfacCsv, files(&bad), now, BTreeMap::new())
            .unwrap();
        let Stored::Malformed { number: 2, error } = s else {
            panic!("{s:?}")
        };
        assert_eq!(error.line, Some(2));
        let state = store.state("sdn").unwrap();
        assert_eq!(state.active, Some(1));
        assert_eq!(state.versions.len(), 2);
        assert!(state.last_error.unwrap().contains("SDN.CSV:2"));
        let entries = store
            .load_active("sdn", ListKind::OfacCsv)
            .unwrap()
            .unwrap();
        assert_eq!(entries[0].name, "ACME TRADING CO");
    }
}
