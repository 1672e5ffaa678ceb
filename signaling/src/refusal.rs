//! Every reason the tracker refuses a connection, an announce or a scrape:
//! the text the client reads (what to do about it) and the label it is
//! counted under in `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::token::TokenError;

#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    TooFast,
    OtherPeerId,
    TooManyTorrents(usize),
    EmptyScrape,
    ScrapeTooLong(usize),
    /// The info-hash is not on the tracker's allow-list.
    NotAllowed,
    /// The cluster's allow-list set has not been read from Redis yet.
    AllowListUnread,
    TokenMissing,
    TokenInvalid(TokenError),
    TokenExpired,
    /// The token is for another torrent.
    TokenOtherTorrent,
    /// The token allows scraping only.
    TokenScope,
    Origin(String),
    TooManyFromIp(usize),
}

/// Labels, in the order of [`Refusal::kind`].
pub const KINDS: [&str; 14] = [
    "rate",
    "peer_id",
    "torrents_per_connection",
    "empty_scrape",
    "scrape_length",
    "not_allowed",
    "token_missing",
    "token_invalid",
    "token_expired",
    "token_torrent",
    "token_scope",
    "origin",
    "connections_per_ip",
    "allow_list_unread",
];

impl Refusal {
    pub fn reason(&self) -> String {
        match self {
            Refusal::TooFast => "too many announces: slow down".into(),
            Refusal::OtherPeerId => "one peer id per torrent per connection".into(),
            Refusal::TooManyTorrents(n) => format!(
                "too many torrents on this connection (at most {n}): open another connection for more"
            ),
            Refusal::EmptyScrape => "scrape needs at least one info_hash".into(),
            Refusal::ScrapeTooLong(n) => format!("scrape of at most {n} info_hashes"),
            Refusal::NotAllowed => "this tracker does not serve this torrent".into(),
            Refusal::AllowListUnread => {
                "this tracker has not read its allow-list yet: announce again in a few seconds"
                    .into()
            }
            Refusal::TokenMissing => {
                "this tracker needs a token: add ?token=… from the site to the tracker URL".into()
            }
            Refusal::TokenInvalid(e) => e.to_string(),
            Refusal::TokenExpired => "token expired: ask the site for a new one".into(),
            Refusal::TokenOtherTorrent => "the token is for another torrent".into(),
            Refusal::TokenScope => "the token allows scrapes only".into(),
            Refusal::Origin(o) => format!("pages from {o} may not use this tracker"),
            Refusal::TooManyFromIp(n) => {
                format!("too many connections from your address (at most {n}): close some")
            }
        }
    }

    pub fn action(&self) -> &'static str {
        match self {
            Refusal::EmptyScrape | Refusal::ScrapeTooLong(_) => "scrape",
            _ => "announce",
        }
    }

    /// Index into [`KINDS`].
    pub fn kind(&self) -> usize {
        match self {
            Refusal::TooFast => 0,
            Refusal::OtherPeerId => 1,
            Refusal::TooManyTorrents(_) => 2,
            Refusal::EmptyScrape => 3,
            Refusal::ScrapeTooLong(_) => 4,
            Refusal::NotAllowed => 5,
            Refusal::TokenMissing => 6,
            Refusal::TokenInvalid(_) => 7,
            Refusal::TokenExpired => 8,
            Refusal::TokenOtherTorrent => 9,
            Refusal::TokenScope => 10,
            Refusal::Origin(_) => 11,
            Refusal::TooManyFromIp(_) => 12,
            Refusal::AllowListUnread => 13,
        }
    }
}

/// Refusals counted by kind.
#[derive(Default)]
pub struct RefusalCounts([AtomicU64; KINDS.len()]);

impl RefusalCounts {
    pub fn add(&self, r: &Refusal) {
        self.0[r.kind()].fetch_add(1, Ordering::Relaxed);
    }

    /// (label, count) for every kind.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        KINDS
            .iter()
            .zip(&self.0)
            .map(|(k, n)| (*k, n.load(Ordering::Relaxed)))
            .collect()
    }
}
