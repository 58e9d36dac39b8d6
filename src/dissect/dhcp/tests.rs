use super::*;

/// A DHCP message: fixed part for `mac`, the cookie, then `options` as given.
fn message(op: u8, mac: [u8; 6], yiaddr: [u8; 4], options: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; FIXED_LEN];
    b[0] = op;
    b[1] = 1;
    b[2] = 6;
    b[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    b[16..20].copy_from_slice(&yiaddr);
    b[28..34].copy_from_slice(&mac);
    b.extend_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(options);
    b
}

const MAC: [u8; 6] = [0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42];

#[test]
fn request_with_hostname_fqdn_and_client_id() {
    let opts = [
        53, 1, 3, // REQUEST
        61, 7, 1, 0, 0xe0, 0xed, 1, 0x6e, 0xbd, // client id (Ethernet)
        50, 4, 192, 168, 1, 2, // requested address
        12, 7, b'd', b'0', b'0', b'2', b'4', b'6', b'5', // host name
        81, 11, 0, 0, 0, b'd', b'0', b'0', b'2', b'4', b'6', b'5', b'.', // FQDN, ASCII
        60, 8, b'M', b'S', b'F', b'T', b' ', b'5', b'.', b'0', 255,
    ];
    let m = parse(&message(1, MAC, [0; 4], &opts)).unwrap();
    assert_eq!(m.message_type, Some(MessageType::Request));
    assert_eq!(m.client_mac(), Some(Mac(MAC)));
    assert_eq!(m.client_id_mac(), Mac::parse("00:e0:ed:01:6e:bd"));
    assert_eq!(m.requested_ip, Some(Ipv4Addr::new(192, 168, 1, 2)));
    assert_eq!(m.hostname.as_deref(), Some("d002465"));
    let f = m.client_fqdn.as_ref().unwrap();
    assert!(!f.wire_encoded());
    assert_eq!(f.name, "d002465.");
    assert_eq!(m.vendor_class.as_deref(), Some("MSFT 5.0"));
    assert_eq!(m.option_codes, vec![53, 61, 50, 12, 81, 60]);
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}

#[test]
fn ack_with_wire_encoded_fqdn_and_lease() {
    let mut opts = vec![53, 1, 5, 51, 4, 0, 0, 0x0e, 0x10, 54, 4, 192, 168, 0, 1];
    let name = b"\x04host\x07example\x03com\x00";
    opts.extend_from_slice(&[81, (3 + name.len()) as u8, 0x05, 255, 255]);
    opts.extend_from_slice(name);
    opts.push(255);
    let m = parse(&message(2, MAC, [192, 168, 0, 10], &opts)).unwrap();
    assert_eq!(m.message_type, Some(MessageType::Ack));
    assert_eq!(m.yiaddr, Ipv4Addr::new(192, 168, 0, 10));
    assert_eq!(m.lease_time, Some(3600));
    assert_eq!(m.server_id, Some(Ipv4Addr::new(192, 168, 0, 1)));
    let f = m.client_fqdn.unwrap();
    assert!(f.wire_encoded());
    assert_eq!(f.name, "host.example.com.");
    assert!(m.anomalies.is_empty());
}

#[test]
fn partial_wire_name_has_no_final_dot() {
    let opts = [53, 1, 3, 81, 8, 0x04, 0, 0, 4, b'h', b'o', b's', b't', 255];
    let m = parse(&message(1, MAC, [0; 4], &opts)).unwrap();
    assert_eq!(m.client_fqdn.unwrap().name, "host");
}

#[test]
fn long_options_are_concatenated_rfc3396() {
    let opts = [
        12, 3, b'a', b'b', b'c', 12, 2, b'd', b'e', 53, 1, 1, 12, 1, b'f', 255,
    ];
    let m = parse(&message(1, MAC, [0; 4], &opts)).unwrap();
    assert_eq!(m.hostname.as_deref(), Some("abcdef"));
    // The third instance is not adjacent to the first two.
    assert!(m.anomalies.repeated_option);
}

#[test]
fn overload_reads_options_from_file_and_sname() {
    let mut b = message(1, MAC, [0; 4], &[53, 1, 1, 52, 1, 3, 255]);
    // file field (108..236): host name; sname field (44..108): vendor class
    b[108..116].copy_from_slice(&[12, 5, b'f', b'i', b'l', b'e', b'd', 255]);
    b[44..49].copy_from_slice(&[60, 2, b'v', b'c', 255]);
    let m = parse(&b).unwrap();
    assert_eq!(m.hostname.as_deref(), Some("filed"));
    assert_eq!(m.vendor_class.as_deref(), Some("vc"));
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
}

#[test]
fn snap_length_cut_keeps_the_header() {
    // 96-byte frames as in the pcapng test generator's DHCP captures: 54 bytes of DHCP.
    let full = message(1, MAC, [0; 4], &[53, 1, 1, 255]);
    let m = parse(&full[..54]).unwrap();
    assert!(m.anomalies.truncated);
    assert_eq!(m.client_mac(), Some(Mac(MAC)));
    assert_eq!(m.xid, 0x1234_5678);
    assert_eq!(m.message_type, None);
    // Cut inside an option.
    let m = parse(&full[..HEADER_LEN + 2]).unwrap();
    assert!(m.anomalies.truncated);
    assert_eq!(m.message_type, None);
}

#[test]
fn wrong_lengths_and_missing_end_are_flagged() {
    let m = parse(&message(1, MAC, [0; 4], &[53, 2, 1, 1, 50, 3, 1, 2, 3])).unwrap();
    assert_eq!(m.message_type, None);
    assert_eq!(m.requested_ip, None);
    assert!(m.anomalies.bad_option);
    assert!(m.anomalies.no_end);
}

#[test]
fn bootp_without_cookie_and_non_dhcp() {
    let mut b = message(2, MAC, [10, 0, 0, 9], &[]);
    b.truncate(FIXED_LEN);
    b.extend_from_slice(&[1, 2, 3, 4]);
    let m = parse(&b).unwrap();
    assert!(m.anomalies.no_magic);
    assert_eq!(m.yiaddr, Ipv4Addr::new(10, 0, 0, 9));
    assert_eq!(parse(&[0u8; 43]), Err(NotDhcp::TooShort(43)));
    let mut bad = message(1, MAC, [0; 4], &[255]);
    bad[0] = 7;
    assert_eq!(parse(&bad), Err(NotDhcp::BadOp(7)));
}

#[test]
fn big_hlen_is_capped_and_flagged() {
    let mut b = message(1, MAC, [0; 4], &[255]);
    b[2] = 200;
    let m = parse(&b).unwrap();
    assert!(m.anomalies.bad_hlen);
    assert_eq!(m.chaddr.len(), 16);
    assert_eq!(m.client_mac(), None);
}

#[test]
fn option_codes_are_bounded() {
    // 255 distinct codes are impossible (254 usable), so repeat within the cap:
    // 200 different codes of length 0.
    let mut opts = Vec::new();
    for code in 1..=200u8 {
        opts.extend_from_slice(&[code, 0]);
    }
    opts.push(255);
    let m = parse(&message(1, MAC, [0; 4], &opts)).unwrap();
    assert_eq!(m.option_codes.len(), MAX_OPTION_CODES);
    assert_eq!(m.anomalies.options_dropped, 200 - MAX_OPTION_CODES as u32);
}

#[test]
fn every_prefix_and_byte_flip_parses_without_panic() {
    let opts = [
        53, 1, 3, 12, 4, b'h', b'o', b's', b't', 81, 7, 4, 0, 0, 4, b'h', b'o', b's', 52, 1, 3, 255,
    ];
    let full = message(1, MAC, [0; 4], &opts);
    for cut in 0..=full.len() {
        let _ = parse(&full[..cut]);
    }
    for i in 0..full.len() {
        for v in [0u8, 1, 0x3f, 0xc0, 0xff] {
            let mut b = full.clone();
            b[i] = v;
            let _ = parse(&b);
        }
    }
}

#[test]
fn long_hostnames_of_control_characters_stay_bounded() {
    // Found by the dhcp_message fuzz target: option 12 repeated (RFC 3396)
    // with C1 controls, 8 bytes each once escaped.
    let mut opts = vec![53, 1, 1];
    for _ in 0..4 {
        opts.extend_from_slice(&[12, 254]);
        opts.extend(std::iter::repeat_n([0xc2u8, 0x85], 127).flatten());
    }
    opts.push(255);
    let m = parse(&message(1, MAC, [0; 4], &opts)).unwrap();
    let h = m.hostname.unwrap();
    assert!(
        h.len() <= 4 * crate::dissect::hostid::MAX_NAME_TEXT,
        "{}",
        h.len()
    );
    assert!(h.starts_with("\\xc2\\x85"));
}
