//! What is never evidence of a security product, whatever a catalog file
//! says: public suffixes (from the Public Suffix List, via the `psl` crate),
//! the apex domains of vendors that run general platforms, the autonomous
//! systems of hyperscalers, CDNs, hosting providers and general platforms,
//! and the host names of a vendor's web presence.
use super::check::IssueKind;
use super::names;

/// Apex (registrable) domains of companies that run general platforms: mail,
/// office, collaboration, search, cloud, shopping, chat. A host under one of
/// them says nothing about a security product, so none can be an owned
/// domain; only a security-specific sub-suffix can (`wd.microsoft.com`,
/// `amp.cisco.com`, `guanjia.qq.com`). Sorted (binary search).
pub const GENERAL_PLATFORM_APEXES: &[&str] = &[
    "alibaba.com",
    "alibabacloud.com",
    "alicdn.com",
    "alipay.com",
    "aliyun.com",
    "aliyuncs.com",
    "amazon.com",
    "amazonaws.com",
    "apple.com",
    "azure.com",
    "baidu.com",
    "baidubce.com",
    "bcebos.com",
    "bdstatic.com",
    "bing.com",
    "cisco.com",
    "dbankcloud.com",
    "gmail.com",
    "google.com",
    "googleapis.com",
    "gstatic.com",
    "hicloud.com",
    "huawei.com",
    "huaweicloud.com",
    "icloud.com",
    "live.com",
    "meraki.com",
    "microsoft.com",
    "microsoftonline.com",
    "msn.com",
    "myqcloud.com",
    "office.com",
    "office.net",
    "office365.com",
    "onedrive.com",
    "outlook.com",
    "qcloud.com",
    "qq.com",
    "sharepoint.com",
    "skype.com",
    "taobao.com",
    "tencent-cloud.com",
    "tencent.com",
    "tencentcloud.com",
    "tencentcs.com",
    "vmall.com",
    "webex.com",
    "wechat.com",
    "weixin.com",
    "windows.com",
    "windows.net",
    "windowsupdate.com",
    "youtube.com",
];

/// Why `domain` (already a well-formed name) cannot be an owned domain:
/// a public suffix or above one, a general platform's apex, or on a shared
/// cloud. `None` when it can.
pub(crate) fn owned_domain_problem(domain: &str) -> Option<(IssueKind, String)> {
    if !domain.contains('.') {
        return Some((
            IssueKind::PublicSuffix,
            "a single label is a top-level domain".into(),
        ));
    }
    match psl::suffix(domain.as_bytes()) {
        Some(s) if s.is_known() && s.as_bytes() == domain.as_bytes() => {
            return Some((
                IssueKind::PublicSuffix,
                "is a public suffix (Public Suffix List): anyone can register names under it"
                    .into(),
            ))
        }
        _ => {}
    }
    if psl::domain(domain.as_bytes()).is_none() {
        return Some((
            IssueKind::PublicSuffix,
            "has no registrable domain under the Public Suffix List".into(),
        ));
    }
    if GENERAL_PLATFORM_APEXES.binary_search(&domain).is_ok() {
        return Some((
            IssueKind::GeneralPlatform,
            "is a general platform's apex (mail, office, collaboration, cloud...): list only its security-specific sub-suffixes".into(),
        ));
    }
    if let Some(cloud) = names::shared_cloud_domain(domain) {
        return Some((
            IssueKind::SharedCloud,
            format!(
                "is on shared cloud domain {cloud:?}: list exact hosts with shared_cloud = true"
            ),
        ));
    }
    None
}

/// The registrable domain (eTLD+1) of a normalised name, per the Public
/// Suffix List; `None` for a public suffix itself or a single label.
pub fn registrable_domain(name: &str) -> Option<&str> {
    let d = psl::domain(name.as_bytes())?;
    let len = d.as_bytes().len();
    name.get(name.len().checked_sub(len)?..)
}

/// Autonomous systems of hyperscalers, CDNs, hosting providers and general
/// platforms: an address in one serves everybody, so it never attributes a
/// flow, and `check` refuses an `[[asn]]` naming one. Numbers with the
/// organisation name of the shipped ASN database (geoip/asn.mmdb) at the
/// time of writing, for the reader. Sorted by number (binary search).
pub const SHARED_NETWORK_ASNS: &[(u32, &str)] = &[
    (109, "CISCO SYSTEMS, INC."),
    (714, "Apple Inc."),
    (801, "Amazon Technologies Inc."),
    (1215, "Oracle Corporation"),
    (1217, "Oracle Corporation"),
    (1218, "Oracle Corporation"),
    (1219, "Oracle Corporation"),
    (2635, "Automattic, Inc"),
    (3457, "Oracle Corporation"),
    (3598, "Microsoft Corporation"),
    (5761, "Microsoft Corporation"),
    (6142, "Oracle Corporation"),
    (6185, "Apple Inc."),
    (7224, "Amazon.com, Inc."),
    (8068, "Microsoft Corporation"),
    (8069, "Microsoft Corporation"),
    (8070, "Microsoft Corporation"),
    (8071, "Microsoft Corporation"),
    (8075, "Microsoft Corporation"),
    (8987, "Amazon Data Services Ireland Ltd"),
    (9059, "Amazon Data Services Ireland Ltd"),
    (12076, "Microsoft Corporation"),
    (12200, "Rackspace Hosting"),
    (12222, "Akamai Technologies, Inc."),
    (12876, "Scaleway SAS"),
    (13335, "Cloudflare, Inc."),
    (13445, "Cisco Webex LLC"),
    (14061, "DigitalOcean, LLC"),
    (14210, "Edgecast Inc."),
    (14340, "Salesforce.com, Inc."),
    (14544, "Oracle Corporation"),
    (14618, "Amazon.com, Inc."),
    (14789, "Cloudflare, Inc."),
    (14960, "Incapsula Inc"),
    (15133, "Edgecast Inc."),
    (15135, "Oracle Corporation"),
    (15169, "Google LLC"),
    (16265, "LeaseWeb Network B.V."),
    (16276, "OVH SAS"),
    (16509, "Amazon.com, Inc."),
    (16550, "Google LLC"),
    (16625, "Akamai Technologies, Inc."),
    (17204, "Akamai Technologies, Inc."),
    (18680, "Akamai Technologies, Inc."),
    (18717, "Akamai Technologies, Inc."),
    (19527, "Google LLC"),
    (19551, "Incapsula Inc"),
    (19994, "Rackspace Hosting"),
    (20037, "Oracle Corporation"),
    (20054, "Oracle Corporation"),
    (20473, "The Constant Company, LLC"),
    (20940, "Akamai International B.V."),
    (21342, "Akamai International B.V."),
    (21664, "Amazon.com, Inc."),
    (21859, "Zenlayer Inc"),
    (22606, "Salesforce.com, Inc."),
    (22822, "Limelight Networks, Inc."),
    (23059, "Limelight Networks, Inc."),
    (24319, "Akamai Technologies, Inc."),
    (24429, "Zhejiang Taobao Network Co.,Ltd"),
    (24940, "Hetzner Online GmbH"),
    (26008, "Akamai Technologies, Inc."),
    (26152, "Cisco Webex LLC"),
    (26506, "Limelight Networks, Inc."),
    (27357, "Rackspace Hosting"),
    (28753, "Leaseweb Deutschland GmbH"),
    (29447, "SCALEWAY S.A.S."),
    (30148, "Sucuri"),
    (31108, "Akamai International B.V."),
    (31898, "Oracle Corporation"),
    (32787, "Akamai Technologies, Inc."),
    (32934, "Facebook, Inc."),
    (33070, "Rackspace Hosting"),
    (33905, "Akamai International B.V."),
    (34164, "Akamai International B.V."),
    (35204, "Akamai International B.V."),
    (35540, "OVH SAS"),
    (35994, "Akamai Technologies, Inc."),
    (36029, "Akamai Technologies, Inc."),
    (36040, "Google LLC"),
    (36183, "Akamai Technologies, Inc."),
    (36263, "Amazon.com, Inc."),
    (36351, "IBM Cloud"),
    (36383, "Google LLC"),
    (36384, "Google LLC"),
    (36385, "Google LLC"),
    (36408, "CDNetworks Inc."),
    (36411, "Google LLC"),
    (36459, "GitHub, Inc."),
    (36492, "Google, LLC"),
    (37963, "Hangzhou Alibaba Advertising Co.,Ltd."),
    (38107, "CDNetworks"),
    (
        38365,
        "Beijing Baidu Netcom Science and Technology Co., Ltd.",
    ),
    (38627, "Baidu, Inc."),
    (38895, "Amazon.com Tech Telecom"),
    (39921, "Rackspace Ltd."),
    (40021, "Contabo Inc."),
    (43515, "Google Ireland Limited"),
    (45090, "Shenzhen Tencent Computer Systems Company Limited"),
    (45102, "Alibaba (US) Technology Co., Ltd."),
    (46652, "DigitalOcean, LLC"),
    (48337, "Linode, LLC"),
    (49846, "Akamai International B.V."),
    (51167, "Contabo GmbH"),
    (54113, "Fastly, Inc."),
    (54115, "Facebook Inc"),
    (54825, "Packet Host, Inc."),
    (55770, "Akamai Technologies, Inc."),
    (
        55967,
        "Beijing Baidu Netcom Science and Technology Co., Ltd.",
    ),
    (55990, "Huawei Cloud Service data center"),
    (58593, "Shanghai Blue Cloud Technology Co.,Ltd"),
    (58862, "Microsoft (China) Co., Ltd."),
    (59019, "Beijing Kingsoft Cloud Internet Technology Co., Ltd"),
    (59245, "G-Core Labs S.A"),
    (60068, "Datacamp Limited"),
    (60781, "LeaseWeb Netherlands B.V."),
    (62785, "Amazon.com Services, LLC"),
    (63288, "Baidu USA LLC"),
    (63293, "Facebook, Inc."),
    (63949, "Akamai Technologies, Inc."),
    (131444, "HUAWEI INTERNATIONAL PTE. LTD."),
    (132203, "Shenzhen Tencent Computer Systems Company Limited"),
    (132591, "Tencent AS num for global network"),
    (132892, "Cloudflare, Inc."),
    (133478, "Tencent Cloud Computing (Beijing) Co., Ltd"),
    (133746, "Baidu (Hong Kong) Limited"),
    (134963, "Alibaba Cloud (Singapore) Private Limited"),
    (135377, "UCLOUD INFORMATION TECHNOLOGY (HK) LIMITED"),
    (136907, "HUAWEI INTERNATIONAL PTE. LTD."),
    (137280, "Kingsoft cloud corporation limited"),
    (137876, "Tencent (Thailand) Company Limited"),
    (139070, "Google Asia Pacific Pte. Ltd."),
    (139190, "Google Asia Pacific Pte. Ltd."),
    (139327, "UCLOUD INFORMATION TECHNOLOGY (HK) LIMITED"),
    (152644, "QINIU (CHINA) limited"),
    (199156, "StackPath LLC"),
    (199524, "G-Core Labs S.A."),
    (200325, "BUNNYWAY, informacijske storitve d.o.o."),
    (202053, "UpCloud Ltd"),
    (202422, "G-Core Labs S.A."),
    (209242, "Cloudflare London, LLC"),
    (210559, "G-Core Labs S.A."),
    (213230, "Hetzner Online GmbH"),
    (395747, "Cloudflare, Inc."),
    (396982, "Google LLC"),
    (396986, "Bytedance Inc."),
];

/// Why `number` cannot be an `[[asn]]` of a vendor.
pub(crate) fn asn_problem(number: u32) -> Option<(IssueKind, String)> {
    let reserved = matches!(number, 0 | 23456 | 65535 | 4_294_967_295)
        || (64496..=65551).contains(&number)
        || (4_200_000_000..=4_294_967_294).contains(&number);
    if reserved {
        return Some((
            IssueKind::Malformed,
            "is reserved, private or for documentation (RFC 6996, RFC 5398, RFC 7300)".into(),
        ));
    }
    if let Ok(i) = SHARED_NETWORK_ASNS.binary_search_by_key(&number, |(n, _)| *n) {
        let org = SHARED_NETWORK_ASNS.get(i).map_or("", |(_, o)| *o);
        return Some((
            IssueKind::GeneralPlatform,
            format!(
                "is {org}, a hyperscaler, CDN, hosting or general-platform network: its addresses serve everybody"
            ),
        ));
    }
    None
}

/// Whether an AS is a hyperscaler, CDN, hosting or general-platform network.
pub fn is_shared_network(number: u32) -> bool {
    SHARED_NETWORK_ASNS
        .binary_search_by_key(&number, |(n, _)| *n)
        .is_ok()
}

/// First labels of a vendor's web presence: under an owned domain (or a
/// catalogued `suffix`), a name starting with one of these is the vendor's
/// web site, documentation, support, shop, careers... and never evidence.
/// Left out on purpose, because products use them: `auth`, `sso`, `login`,
/// `signin`, `id`, `account(s)`, `my`, `portal` (agent sign-in and consoles),
/// `download(s)`, `content`, `cdn` (product binaries and update content),
/// `events`, `feedback` (telemetry intake). Sorted (binary search).
pub const WEB_LABELS: &[&str] = &[
    "about",
    "academy",
    "answers",
    "api-docs",
    "blog",
    "blogs",
    "buy",
    "careers",
    "communities",
    "community",
    "contact",
    "customer",
    "customers",
    "dev-docs",
    "developer",
    "developers",
    "doc",
    "docs",
    "documentation",
    "education",
    "estore",
    "forum",
    "forums",
    "go",
    "help",
    "helpcenter",
    "ideas",
    "info",
    "investor",
    "investors",
    "ir",
    "jobs",
    "kb",
    "knowledgebase",
    "learn",
    "learning",
    "legal",
    "marketing",
    "media",
    "news",
    "newsroom",
    "pages",
    "partner",
    "partnerportal",
    "partners",
    "press",
    "privacy",
    "resources",
    "shop",
    "static-www",
    "status",
    "store",
    "success",
    "support",
    "supportportal",
    "training",
    "trust",
    "trustcenter",
    "university",
    "web",
    "webinar",
    "webinars",
    "www",
    "www2",
    "www3",
];

/// How many labels a web-presence name may have above the owned domain or
/// suffix it is under (or, for other names, above its registrable domain):
/// `www.x`, `docs.product.x`.
pub const WEB_DEPTH: usize = 2;

/// Whether the first label of `name` is a web-presence label.
pub fn has_web_label(name: &str) -> bool {
    let first = name.split('.').next().unwrap_or("");
    WEB_LABELS.binary_search(&first).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_binary_search() {
        assert!(GENERAL_PLATFORM_APEXES.windows(2).all(|w| w[0] < w[1]));
        assert!(WEB_LABELS.windows(2).all(|w| w[0] < w[1]));
        assert!(SHARED_NETWORK_ASNS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn public_suffixes_and_platform_apexes_are_refused() {
        let kind = |d: &str| owned_domain_problem(d).map(|p| p.0);
        assert_eq!(kind("com"), Some(IssueKind::PublicSuffix));
        assert_eq!(kind("co.uk"), Some(IssueKind::PublicSuffix));
        assert_eq!(kind("com.cn"), Some(IssueKind::PublicSuffix));
        // Private-section suffixes too: anyone can have a name under them.
        assert_eq!(kind("github.io"), Some(IssueKind::PublicSuffix));
        assert_eq!(kind("s3.amazonaws.com"), Some(IssueKind::PublicSuffix));
        assert_eq!(kind("microsoft.com"), Some(IssueKind::GeneralPlatform));
        assert_eq!(kind("qq.com"), Some(IssueKind::GeneralPlatform));
        assert_eq!(kind("huawei.com"), Some(IssueKind::GeneralPlatform));
        assert_eq!(kind("x.cloudfront.net"), Some(IssueKind::SharedCloud));
        assert_eq!(kind("cloudsink.net"), None);
        assert_eq!(kind("wd.microsoft.com"), None);
        assert_eq!(kind("guanjia.qq.com"), None);
        assert_eq!(kind("kaspersky.com.cn"), None);
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(
            registrable_domain("ts01-b.cloudsink.net"),
            Some("cloudsink.net")
        );
        assert_eq!(
            registrable_domain("a.b.example.co.uk"),
            Some("example.co.uk")
        );
        assert_eq!(registrable_domain("co.uk"), None);
        assert_eq!(registrable_domain("com"), None);
    }

    #[test]
    fn web_labels_are_first_labels_only() {
        assert!(has_web_label("www.sophos.com"));
        assert!(has_web_label("support.central.sophos.com"));
        assert!(!has_web_label("central.www.sophos.com"));
        assert!(!has_web_label("auth.sophos.com"));
        assert!(!has_web_label("wwwx.sophos.com"));
    }

    #[test]
    fn reserved_asns_are_refused() {
        for n in [0, 23456, 64512, 65534, 65535, 4_200_000_000] {
            assert!(asn_problem(n).is_some(), "{n}");
        }
        assert!(asn_problem(36692).is_none());
    }
}
