//! The demuxer's layers on hand-made bytes (the whole transmuxer on
//! ffmpeg's streams is tested in `transmux/tests.rs`).

use super::adts;
use super::demux::DemuxEvent;
use super::h264;
use super::packet::{self, PACKET_LEN};
use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A packet: header, optional adaptation field of `adaptation` bytes (stuffing), payload padded with 0xff.
fn packet(pid: u16, start: bool, cc: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x47, (u8::from(start) << 6) | (pid >> 8) as u8, pid as u8];
    let room = PACKET_LEN - 4;
    if payload.len() < room {
        // Stuffing in an adaptation field, as muxers do.
        let stuffing = room - payload.len();
        p.push(0x30 | cc);
        p.push((stuffing - 1) as u8);
        if stuffing > 1 {
            p.push(0);
            p.extend(std::iter::repeat_n(0xff, stuffing - 2));
        }
    } else {
        p.push(0x10 | cc);
    }
    p.extend_from_slice(&payload[..payload.len().min(room)]);
    p
}

fn section(table: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() + 5 + 4;
    let mut s = vec![0, table, 0xb0 | (len >> 8) as u8, len as u8, 0, 1, 0xc1, 0, 0];
    s.extend_from_slice(body);
    s.extend_from_slice(&[0, 0, 0, 0]); // CRC (not checked)
    s
}

fn pes(stream_id: u8, pts: u64, payload: &[u8]) -> Vec<u8> {
    let len = 3 + 5 + payload.len();
    let mut p = vec![0, 0, 1, stream_id, (len >> 8) as u8, len as u8, 0x80, 0x80, 5];
    p.extend_from_slice(&[
        0x21 | ((pts >> 29) & 0x0e) as u8,
        (pts >> 22) as u8,
        0x01 | ((pts >> 14) & 0xfe) as u8,
        (pts >> 7) as u8,
        0x01 | ((pts << 1) & 0xfe) as u8,
    ]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn a_packet_reads_its_header_and_skips_its_adaptation_field() {
    let p = packet(0x101, true, 7, b"hello");
    let r = packet::parse(&p).unwrap();
    assert_eq!((r.pid, r.unit_start, r.continuity, r.payload), (0x101, true, 7, &b"hello"[..]));
    let mut bad = p.clone();
    bad[4] = 200; // an adaptation field longer than the packet
    assert_eq!(packet::parse(&bad).unwrap_err(), TsWarning::BadPacket);
}

#[test]
fn pat_pmt_and_a_pes_across_packets() {
    let mut d = Demuxer::new();
    let mut bytes = packet(0, true, 0, &section(0, &[0, 1, 0xf0, 0x00]));
    // PMT: H.264 on 0x100, AAC on 0x101, DVB AC-3 (private + descriptor 0x6a) on 0x102.
    let pmt = [&[0xe1, 0x00, 0xf0, 0][..], &[0x1b, 0xe1, 0x00, 0xf0, 0], &[0x0f, 0xe1, 0x01, 0xf0, 0], &[0x06, 0xe1, 0x02, 0xf0, 3, 0x6a, 1, 0]].concat();
    bytes.extend(packet(0x1000, true, 0, &section(2, &pmt)));
    let payload: Vec<u8> = (0..400u32).map(|i| i as u8).collect();
    let p = pes(0xe0, 90_000 * 10, &payload);
    bytes.extend(packet(0x100, true, 0, &p[..184]));
    bytes.extend(packet(0x100, false, 1, &p[184..368]));
    bytes.extend(packet(0x100, false, 2, &p[368..]));
    d.handle_data(&bytes);
    d.flush();
    let events: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
    assert!(
        matches!(&events[0], DemuxEvent::Streams(s) if s == &[(0x100, StreamType::H264), (0x101, StreamType::Aac), (0x102, StreamType::Ac3)]),
        "{events:?}"
    );
    let DemuxEvent::Pes(pes) = &events[1] else { panic!("{events:?}") };
    assert_eq!((pes.pts, pes.dts, &pes.data), (Some(900_000), Some(900_000), &payload));
}

#[test]
fn a_lost_packet_drops_its_pes_and_says_so() {
    let mut d = Demuxer::new();
    let mut bytes = packet(0, true, 0, &section(0, &[0, 1, 0xf0, 0x00]));
    bytes.extend(packet(0x1000, true, 0, &section(2, &[0xe1, 0x00, 0xf0, 0, 0x1b, 0xe1, 0x00, 0xf0, 0])));
    let p = pes(0xe0, 0, &[9; 400]);
    bytes.extend(packet(0x100, true, 0, &p[..184]));
    bytes.extend(packet(0x100, false, 2, &p[368..])); // counter 1 never came
    bytes.extend(packet(0x100, true, 3, &pes(0xe0, 3000, &[1, 2, 3])));
    d.handle_data(&bytes);
    d.flush();
    let events: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(e, DemuxEvent::Warning(TsWarning::ContinuityError { pid: 0x100 }))));
    let pes: Vec<_> = events.iter().filter_map(|e| if let DemuxEvent::Pes(p) = e { Some(p.pts) } else { None }).collect();
    assert_eq!(pes, vec![Some(3000)], "only the whole PES");
}

#[test]
fn nal_units_split_on_three_and_four_byte_start_codes() {
    let stream = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x65, 7, 0, 0];
    let units: Vec<&[u8]> = h264::nal_units(&stream).collect();
    assert_eq!(units, vec![&[0x09, 0xf0][..], &[0x67, 1, 2], &[0x65, 7]]);
    assert_eq!(h264::nal_units(&[1, 2, 3]).count(), 0);
}

#[test]
fn an_sps_gives_size_profile_and_codec_string() {
    // x264's SPS for 640x360 High 3.0 (360 = 23 macroblocks less 8 cropped lines).
    let sps = hex("6764001eacd940a02ff97011000003000100000300300f162d96");
    let info = h264::parse_sps(&sps).unwrap();
    assert_eq!((info.width, info.height), (640, 360));
    assert_eq!(h264::codec_string(&info), "avc1.64001e");
    let avcc = h264::avcc(&[&sps], &[&[0x68, 0xef, 0xbc, 0xb0]]).unwrap();
    assert_eq!(&avcc[..6], &[1, 0x64, 0, 0x1e, 0xff, 0xe1]);
    for cut in 0..sps.len() {
        let _ = h264::parse_sps(&sps[..cut]); // never a panic
    }
}

#[test]
fn adts_frames_and_their_audio_specific_config() {
    // AAC-LC, 48 kHz (index 3), stereo, 7-byte header + 3 bytes.
    let frame = [0xff, 0xf1, 0x4c, 0x80, 0x01, 0x5f, 0xfc, 1, 2, 3];
    let two = [&frame[..], &frame[..], &[0xff]].concat();
    let (frames, left) = adts::frames(&two);
    assert_eq!((frames.len(), left), (2, 1));
    let c = frames[0].config;
    assert_eq!((c.object_type, c.sample_rate(), c.channels), (2, 48_000, 2));
    assert_eq!(c.audio_specific_config(), [0x11, 0x90]);
    assert_eq!(c.codec_string(), "mp4a.40.2");
    assert_eq!(frames[0].payload, &[1, 2, 3]);
}
