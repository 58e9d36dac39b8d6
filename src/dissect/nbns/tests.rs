use super::*;

/// First-level encoding of a 15-byte name (space padded) and a suffix.
fn encode(name: &str, suffix: u8) -> Vec<u8> {
    let mut b16 = [b' '; 16];
    b16[..name.len()].copy_from_slice(name.as_bytes());
    b16[15] = suffix;
    let mut out = vec![32u8];
    for b in b16 {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    out.push(0);
    out
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b
}

/// A registration request as Windows sends it: question, then an NB
/// additional record whose name points back at the question.
fn registration(name: &str, suffix: u8, nb_flags: u16, addr: [u8; 4]) -> Vec<u8> {
    let mut b = header(0x895a, 0x2910, [1, 0, 0, 1]);
    b.extend(encode(name, suffix));
    b.extend_from_slice(&[0, 0x20, 0, 1]);
    b.extend_from_slice(&[0xc0, 0x0c, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6]);
    b.extend_from_slice(&nb_flags.to_be_bytes());
    b.extend_from_slice(&addr);
    b
}

#[test]
fn registration_request_decodes_name_flags_and_address() {
    let m = parse(&registration(
        "WORKGROUP",
        0x1e,
        0x8000,
        [192, 168, 100, 206],
    ))
    .unwrap();
    assert_eq!(m.opcode, Opcode::Registration);
    assert!(!m.response);
    assert!(m.broadcast);
    let q = &m.questions[0];
    assert_eq!(q.name.as_ref().unwrap().display(), "WORKGROUP<1e>");
    assert_eq!(q.qtype, TYPE_NB);
    let r = &m.additionals[0];
    assert_eq!(r.name.as_ref().unwrap().display(), "WORKGROUP<1e>");
    assert_eq!(r.ttl, 300_000);
    let NbRdata::Nb(e) = &r.rdata else {
        panic!("{:?}", r.rdata)
    };
    assert!(e[0].is_group());
    assert_eq!(e[0].addr, Ipv4Addr::new(192, 168, 100, 206));
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}

#[test]
fn names_with_control_bytes_and_scope_print_as_tshark_does() {
    let mut b = header(1, 0x0110, [1, 0, 0, 0]);
    let mut n = encode("\u{1}\u{2}__MSBROWSE__\u{2}", 0x01);
    n.pop();
    n.extend_from_slice(b"\x04corp\x03lan\x00");
    b.extend(n);
    b.extend_from_slice(&[0, 0x20, 0, 1]);
    let m = parse(&b).unwrap();
    let name = m.questions[0].name.as_ref().unwrap();
    assert_eq!(name.display(), "<01><02>__MSBROWSE__<02><01>.corp.lan");
    assert_eq!(name.scope, "corp.lan");
}

#[test]
fn node_status_response_gives_names_and_unit_id() {
    let mut b = header(7, 0x8400, [0, 1, 0, 0]);
    b.extend(encode("*", 0));
    let mut rdata = vec![3u8];
    for (name, suffix, flags) in [
        ("PC-42", 0x00u8, 0x0400u16),
        ("CORP", 0x00, 0x8400),
        ("PC-42", 0x20, 0x0400),
    ] {
        let mut n = [b' '; 16];
        n[..name.len()].copy_from_slice(name.as_bytes());
        n[15] = suffix;
        rdata.extend_from_slice(&n);
        rdata.extend_from_slice(&flags.to_be_bytes());
    }
    rdata.extend_from_slice(&[0x00, 0x50, 0x56, 0x87, 0x50, 0x6b]);
    rdata.extend_from_slice(&[0u8; 40]);
    b.extend_from_slice(&[0, 0x21, 0, 1, 0, 0, 0, 0]);
    b.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    b.extend(rdata);
    let m = parse(&b).unwrap();
    let NbRdata::NodeStatus(s) = &m.answers[0].rdata else {
        panic!("{:?}", m.answers[0].rdata)
    };
    assert_eq!(s.names.len(), 3);
    assert_eq!(s.names[1].name.name_text(), "CORP");
    assert!(s.names[1].is_group());
    assert_eq!(s.unit_id, Mac::parse("00:50:56:87:50:6b"));
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}

#[test]
fn bad_encoding_pointer_loops_and_truncation_are_flagged() {
    // Letters past P decode as Wireshark does, flagged: 'S','A' is 0x120 → 0x20.
    let mut b = header(1, 0, [1, 0, 0, 0]);
    let mut n = encode("HOSTX", 0);
    n[9] = b'S';
    n[10] = b'A';
    b.extend(n);
    b.extend_from_slice(&[0, 0x20, 0, 1]);
    let m = parse(&b).unwrap();
    assert!(m.anomalies.lax_name && !m.anomalies.bad_name);
    assert_eq!(m.questions[0].name.as_ref().unwrap().display(), "HOST<00>");
    // A lower-case letter is not an encoding at all.
    let mut b = header(1, 0, [1, 0, 0, 0]);
    let mut n = encode("HOST", 0);
    n[1] = b'e';
    b.extend(n);
    b.extend_from_slice(&[0, 0x20, 0, 1]);
    let m = parse(&b).unwrap();
    assert!(m.anomalies.bad_name);
    assert!(m.questions[0].name.is_none());
    // A pointer to itself.
    let mut b = header(1, 0, [1, 0, 0, 0]);
    b.extend_from_slice(&[0xc0, 12, 0, 0x20, 0, 1]);
    let m = parse(&b).unwrap();
    assert!(m.anomalies.bad_pointer);
    // Counts beyond the message.
    let mut b = registration("HOST", 0, 0, [10, 0, 0, 1]);
    b[7] = 3;
    let m = parse(&b).unwrap();
    assert!(m.anomalies.bad_counts);
    // NB rdata of a length that is not a multiple of 6.
    let mut b = registration("HOST", 0, 0, [10, 0, 0, 1]);
    let len = b.len();
    b[len - 7] = 5;
    b.pop();
    let m = parse(&b).unwrap();
    assert!(m.anomalies.bad_rdata);
    assert_eq!(parse(&[0; 11]), Err(NotNbns::TooShort(11)));
}

#[test]
fn every_prefix_and_byte_flip_parses_without_panic() {
    let full = registration("WORKSTATION-1", 0x20, 0x6000, [10, 1, 2, 3]);
    for cut in 0..=full.len() {
        let _ = parse(&full[..cut]);
    }
    for i in 0..full.len() {
        for v in [0u8, 1, 0x20, 0x21, 0x3f, 0xc0, 0xff] {
            let mut b = full.clone();
            b[i] = v;
            let _ = parse(&b);
        }
    }
}
