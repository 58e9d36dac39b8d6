use super::*;
use crate::dissect::{dhcp, dns, nbns};

fn dhcp_msg(op: u8, msg_type: u8, yiaddr: [u8; 4], ciaddr: [u8; 4], extra: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; dhcp::FIXED_LEN];
    b[0] = op;
    b[1] = 1;
    b[2] = 6;
    b[12..16].copy_from_slice(&ciaddr);
    b[16..20].copy_from_slice(&yiaddr);
    b[28..34].copy_from_slice(&[0xc4, 0x61, 0x8b, 0x35, 0x82, 0xa9]);
    b.extend_from_slice(&dhcp::MAGIC_COOKIE);
    b.extend_from_slice(&[53, 1, msg_type]);
    b.extend_from_slice(extra);
    b.push(255);
    b
}

const PHONE: &str = "c4:61:8b:35:82:a9";

#[test]
fn dhcp_ack_binds_request_describes_offer_binds_nothing() {
    let ack = dhcp::parse(&dhcp_msg(
        2,
        5,
        [192, 168, 2, 17],
        [0; 4],
        &[51, 4, 0, 1, 0x51, 0x80],
    ))
    .unwrap();
    let c = from_dhcp(&ack).unwrap();
    assert_eq!(c.action, ClaimAction::Bind);
    assert_eq!(c.mac, Mac::parse(PHONE));
    assert_eq!(c.address, Some("192.168.2.17".parse().unwrap()));
    assert_eq!(c.ttl, Some(86400));

    let req = dhcp::parse(&dhcp_msg(
        1,
        3,
        [0; 4],
        [0; 4],
        &[
            12, 12, b'L', b'u', b'c', b'a', b's', b'-', b'i', b'P', b'h', b'o', b'n', b'e',
        ],
    ))
    .unwrap();
    let c = from_dhcp(&req).unwrap();
    assert_eq!(c.action, ClaimAction::Describe);
    assert_eq!(c.hostname.as_deref(), Some("Lucas-iPhone"));
    assert_eq!(c.address, None);

    let offer = dhcp::parse(&dhcp_msg(2, 2, [192, 168, 2, 17], [0; 4], &[])).unwrap();
    assert_eq!(from_dhcp(&offer), None);
    // A DISCOVER without any name says nothing new.
    let discover = dhcp::parse(&dhcp_msg(1, 1, [0; 4], [0; 4], &[])).unwrap();
    assert_eq!(from_dhcp(&discover), None);

    let release = dhcp::parse(&dhcp_msg(1, 7, [0; 4], [192, 168, 2, 17], &[])).unwrap();
    let c = from_dhcp(&release).unwrap();
    assert_eq!(c.action, ClaimAction::Release);
    assert_eq!(c.address, Some("192.168.2.17".parse().unwrap()));
}

fn encode_nb(name: &str, suffix: u8) -> Vec<u8> {
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

fn nb_registration(name: &str, suffix: u8, nb_flags: u16, addr: [u8; 4], opcode: u8) -> Vec<u8> {
    let flags: u16 = (u16::from(opcode) << 11) | 0x0110;
    let mut b = vec![0x12, 0x34];
    b.extend_from_slice(&flags.to_be_bytes());
    b.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    b.extend(encode_nb(name, suffix));
    b.extend_from_slice(&[0, 0x20, 0, 1]);
    b.extend_from_slice(&[0xc0, 0x0c, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6]);
    b.extend_from_slice(&nb_flags.to_be_bytes());
    b.extend_from_slice(&addr);
    b
}

#[test]
fn nbns_registers_machine_names_not_groups_or_services() {
    let src: IpAddr = "10.0.0.5".parse().unwrap();
    let reg = nbns::parse(&nb_registration("PC-42", 0x00, 0x0000, [10, 0, 0, 5], 5)).unwrap();
    let claims = from_nbns(&reg, src);
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].hostname.as_deref(), Some("PC-42"));
    assert_eq!(claims[0].address, Some(src));
    assert_eq!(claims[0].action, ClaimAction::Bind);
    // Workgroup (group flag) and the master-browser name <1d> are not machine names.
    let group = nbns::parse(&nb_registration(
        "WORKGROUP",
        0x00,
        0x8000,
        [10, 0, 0, 5],
        5,
    ))
    .unwrap();
    assert!(from_nbns(&group, src).is_empty());
    let browser = nbns::parse(&nb_registration("WORKGROUP", 0x1d, 0, [10, 0, 0, 5], 5)).unwrap();
    assert!(from_nbns(&browser, src).is_empty());
    // Release (opcode 6).
    let rel = nbns::parse(&nb_registration("PC-42", 0x20, 0, [10, 0, 0, 5], 6)).unwrap();
    assert_eq!(from_nbns(&rel, src)[0].action, ClaimAction::Release);
}

fn mdns_response(name: &str, addr: [u8; 4], ttl: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    for label in name.split('.') {
        b.push(label.len() as u8);
        b.extend_from_slice(label.as_bytes());
    }
    b.push(0);
    b.extend_from_slice(&[0, 1, 0x80, 1]);
    b.extend_from_slice(&ttl.to_be_bytes());
    b.extend_from_slice(&[0, 4]);
    b.extend_from_slice(&addr);
    b
}

#[test]
fn mdns_binds_only_the_senders_own_name() {
    let src: IpAddr = "192.168.1.121".parse().unwrap();
    let m = dns::parse_message(&mdns_response("MBPro.local", [192, 168, 1, 121], 120)).unwrap();
    let c = from_mdns(&m, src).unwrap();
    assert_eq!(c.hostname.as_deref(), Some("MBPro"));
    assert_eq!(c.action, ClaimAction::Bind);
    // A proxy answering for another address claims nothing for itself.
    let other = dns::parse_message(&mdns_response("MBPro.local", [192, 168, 1, 99], 120)).unwrap();
    assert_eq!(from_mdns(&other, src), None);
    // TTL 0 is a goodbye.
    let bye = dns::parse_message(&mdns_response("MBPro.local", [192, 168, 1, 121], 0)).unwrap();
    assert_eq!(from_mdns(&bye, src).unwrap().action, ClaimAction::Release);
}
