//! webswarm-native: the native peer. So far: [`storage`], the disk layout of a
//! torrent's files and the verified-piece record that lets a restart resume.

pub mod storage;
