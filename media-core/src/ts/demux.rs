//! Packets to PES packets: the stream map from PAT/PMT, reassembly across
//! packets, PTS/DTS from the PES header.

use std::collections::VecDeque;

use super::packet::{self, PACKET_LEN, SYNC};
use super::{psi, StreamType, TsWarning};

/// A PES packet of one elementary stream (90 kHz timestamps, 33-bit as read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pes {
    pub pid: u16,
    pub kind: StreamType,
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub data: Vec<u8>,
}

#[derive(Debug)]
struct Stream {
    pid: u16,
    kind: StreamType,
    continuity: Option<u8>,
    /// The PES being gathered (its bytes from the start code on).
    pes: Vec<u8>,
    /// A packet was lost since this PES began: drop it when it ends.
    broken: bool,
}

/// Output of the demuxer.
#[derive(Debug)]
pub enum DemuxEvent {
    /// The PMT (re)declared the streams.
    Streams(Vec<(u16, StreamType)>),
    Pes(Pes),
    Warning(TsWarning),
}

/// Bounds: a PES never grows past this (a 4K keyframe is ~1-2 MB).
const MAX_PES: usize = 16 << 20;

#[derive(Debug, Default)]
pub struct Demuxer {
    /// The start of a packet split across calls.
    carry: Vec<u8>,
    pmt_pid: Option<u16>,
    streams: Vec<Stream>,
    out: VecDeque<DemuxEvent>,
}

impl Demuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take bytes of the stream, in any chunking.
    pub fn handle_data(&mut self, mut data: &[u8]) {
        if !self.carry.is_empty() {
            let need = PACKET_LEN - self.carry.len();
            let take = need.min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < PACKET_LEN {
                return;
            }
            let packet = std::mem::take(&mut self.carry);
            if packet[0] == SYNC {
                self.handle_packet(&packet);
            } else {
                // (The carried bytes were out of sync: resync over them and what follows.)
                let mut joined = packet;
                joined.extend_from_slice(data);
                return self.scan(&joined);
            }
        }
        self.scan(data);
    }

    fn scan(&mut self, data: &[u8]) {
        let mut i = 0;
        while i < data.len() {
            if data[i] != SYNC {
                // Resync: the next offset where sync bytes line up (or the last one seen).
                let from = i;
                while i < data.len() && !(data[i] == SYNC && data.get(i + PACKET_LEN).is_none_or(|&b| b == SYNC)) {
                    i += 1;
                }
                self.out.push_back(DemuxEvent::Warning(TsWarning::LostSync { skipped: i - from }));
                continue;
            }
            if data.len() - i < PACKET_LEN {
                self.carry.extend_from_slice(&data[i..]);
                return;
            }
            self.handle_packet(&data[i..i + PACKET_LEN]);
            i += PACKET_LEN;
        }
    }

    fn handle_packet(&mut self, bytes: &[u8]) {
        let p = match packet::parse(bytes) {
            Ok(p) => p,
            Err(w) => return self.out.push_back(DemuxEvent::Warning(w)),
        };
        if p.transport_error {
            return self.out.push_back(DemuxEvent::Warning(TsWarning::BadPacket));
        }
        if p.pid == 0 {
            if let Some(pmt) = p.unit_start.then(|| psi::pat(p.payload)).flatten() {
                self.pmt_pid = Some(pmt);
            }
            return;
        }
        if Some(p.pid) == self.pmt_pid {
            if let Some(streams) = p.unit_start.then(|| psi::pmt(p.payload)).flatten() {
                self.handle_pmt(streams);
            }
            return;
        }
        let Some(k) = self.streams.iter().position(|s| s.pid == p.pid) else { return };
        // Continuity: a repeated counter is a duplicate packet; any other jump lost packets.
        let s = &mut self.streams[k];
        if p.has_payload {
            let expected = s.continuity.map(|c| (c + 1) & 0x0f);
            if s.continuity == Some(p.continuity) && !p.discontinuity {
                return; // a duplicate
            }
            if expected.is_some_and(|e| e != p.continuity) && !p.discontinuity {
                s.broken = true;
                self.out.push_back(DemuxEvent::Warning(TsWarning::ContinuityError { pid: p.pid }));
            }
            s.continuity = Some(p.continuity);
        }
        if p.unit_start {
            self.finish(k);
            let s = &mut self.streams[k];
            s.broken = false;
            s.pes.extend_from_slice(p.payload);
        } else if !self.streams[k].pes.is_empty() {
            let s = &mut self.streams[k];
            if s.pes.len() + p.payload.len() > MAX_PES {
                s.pes.clear();
                self.out.push_back(DemuxEvent::Warning(TsWarning::BadPes { pid: p.pid }));
            } else {
                s.pes.extend_from_slice(p.payload);
            }
        }
    }

    fn handle_pmt(&mut self, streams: Vec<(u16, StreamType)>) {
        let same = streams.len() == self.streams.len() && streams.iter().zip(&self.streams).all(|(a, b)| a.0 == b.pid && a.1 == b.kind);
        if same {
            return;
        }
        for k in 0..self.streams.len() {
            self.finish(k);
        }
        self.streams = streams.iter().map(|&(pid, kind)| Stream { pid, kind, continuity: None, pes: Vec::new(), broken: false }).collect();
        self.out.push_back(DemuxEvent::Streams(streams));
    }

    /// The end of the input's segment: every PES in progress is complete,
    /// and the next segment's packets count afresh (another variant's
    /// counters need not follow these).
    pub fn flush(&mut self) {
        for k in 0..self.streams.len() {
            self.finish(k);
            self.streams[k].continuity = None;
        }
        self.carry.clear();
    }

    /// The PES gathered on stream `k` is complete.
    fn finish(&mut self, k: usize) {
        let s = &mut self.streams[k];
        if s.pes.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut s.pes);
        let (pid, kind) = (s.pid, s.kind);
        if std::mem::take(&mut s.broken) {
            return; // (its loss was reported)
        }
        match parse_pes(&raw) {
            Some((pts, dts, payload)) => {
                let mut data = raw;
                data.truncate(payload.end);
                data.drain(..payload.start);
                self.out.push_back(DemuxEvent::Pes(Pes { pid, kind, pts, dts, data }));
            }
            None => self.out.push_back(DemuxEvent::Warning(TsWarning::BadPes { pid })),
        }
    }

    pub fn poll_event(&mut self) -> Option<DemuxEvent> {
        self.out.pop_front()
    }
}

/// A 33-bit timestamp in the PES header's 5-byte form.
fn timestamp(b: &[u8]) -> Option<u64> {
    let b: &[u8; 5] = b.get(..5)?.try_into().ok()?;
    Some(u64::from(b[0] >> 1 & 7) << 30 | u64::from(b[1]) << 22 | u64::from(b[2] >> 1) << 15 | u64::from(b[3]) << 7 | u64::from(b[4] >> 1))
}

/// (PTS, DTS, where the payload is), checked against the declared
/// length; a PES with a declared length that was cut short is refused.
fn parse_pes(raw: &[u8]) -> Option<(Option<u64>, Option<u64>, std::ops::Range<usize>)> {
    if raw.get(..3)? != [0, 0, 1] {
        return None;
    }
    let declared = usize::from(u16::from_be_bytes([*raw.get(4)?, *raw.get(5)?]));
    if declared != 0 && raw.len() < 6 + declared {
        return None;
    }
    let flags = *raw.get(7)?;
    let header_len = usize::from(*raw.get(8)?);
    let start = 9 + header_len;
    if start > raw.len() {
        return None;
    }
    let pts = if flags & 0x80 != 0 { Some(timestamp(raw.get(9..)?)?) } else { None };
    let dts = if flags & 0xc0 == 0xc0 { Some(timestamp(raw.get(14..)?)?) } else { pts };
    let end = if declared == 0 { raw.len() } else { 6 + declared };
    (start <= end).then_some((pts, dts, start..end))
}
