//! Tests of hpack: RFC 7541 Appendix C vectors, integer edge cases, Huffman, limits, fuzzing.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn integers_c1_and_edges() {
    for (value, prefix, bytes) in [
        (10usize, 5u8, vec![0x0a]),
        (1337, 5, vec![0x1f, 0x9a, 0x0a]),
        (42, 8, vec![0x2a]),
        (30, 5, vec![0x1e]),
        (31, 5, vec![0x1f, 0x00]),
        (127, 7, vec![0x7f, 0x00]),
        (128, 7, vec![0x7f, 0x01]),
        (254, 8, vec![0xfe]),
        (255, 8, vec![0xff, 0x00]),
        (256, 8, vec![0xff, 0x01]),
        (u32::MAX as usize, 5, vec![0x1f, 0xe0, 0xff, 0xff, 0xff, 0x0f]),
    ] {
        let mut out = Vec::new();
        encode_int(value, prefix, 0, &mut out);
        assert_eq!(out, bytes, "encode {value}/{prefix}");
        let mut pos = 0;
        assert_eq!(decode_int(&bytes, &mut pos, prefix), Ok(value));
        assert_eq!(pos, bytes.len());
    }
    // flag bits above the prefix are ignored
    let mut pos = 0;
    assert_eq!(decode_int(&[0xea], &mut pos, 5), Ok(10));
    for bad in [
        vec![],
        vec![0x1f],
        vec![0x1f, 0x80],
        vec![0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f],
        vec![0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
    ] {
        let mut pos = 0;
        assert!(decode_int(&bad, &mut pos, 5).is_err(), "{bad:?}");
    }
}

#[test]
fn c2_single_representations() {
    let mut d = Decoder::new(4096);
    let v = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    assert_eq!(d.decode(&v, 65536).unwrap(), pairs(&[("custom-key", "custom-header")]));
    assert_eq!(d.table_size(), 55);
    let mut d = Decoder::new(4096);
    assert_eq!(
        d.decode(&hex("040c 2f73 616d 706c 652f 7061 7468"), 65536).unwrap(),
        pairs(&[(":path", "/sample/path")])
    );
    assert_eq!(
        d.decode(&hex("1008 7061 7373 776f 7264 0673 6563 7265 74"), 65536).unwrap(),
        pairs(&[("password", "secret")])
    );
    assert_eq!(d.decode(&hex("82"), 65536).unwrap(), pairs(&[(":method", "GET")]));
    assert_eq!(d.table_size(), 0);
}

fn run(table: usize, blocks: &[&str], want: &[(&[(&str, &str)], usize)]) {
    let mut d = Decoder::new(4096);
    if table != 4096 {
        let mut upd = Vec::new();
        encode_int(table, 5, 0x20, &mut upd);
        assert!(d.decode(&upd, 65536).unwrap().is_empty());
    }
    for (block, (headers, size)) in blocks.iter().zip(want) {
        assert_eq!(d.decode(&hex(block), 65536).unwrap(), pairs(headers));
        assert_eq!(d.table_size(), *size);
    }
}

const REQ: [&[(&str, &str)]; 3] = [
    &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
    &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ],
    &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ],
];

#[test]
fn c3_c4_requests() {
    let want = [(REQ[0], 57), (REQ[1], 110), (REQ[2], 164)];
    run(
        4096,
        &[
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ],
        &want,
    );
    run(
        4096,
        &[
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ],
        &want,
    );
}

#[test]
fn c5_c6_responses_with_eviction() {
    let r1: &[(&str, &str)] = &[
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    let r2: &[(&str, &str)] = &[
        (":status", "307"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    let r3: &[(&str, &str)] = &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
    ];
    let want = [(r1, 222), (r2, 222), (r3, 215)];
    run(256, &["4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31"], &want);
    run(256, &["4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"], &want);
}

#[test]
fn huffman_roundtrip_and_bad_padding() {
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let mut out = Vec::new();
    huffman_decode(&enc::huffman(&all), &mut out).unwrap();
    assert_eq!(out, all);
    for s in ["", "a", "www.example.com", "grpc-status", "\u{7f}\0~"] {
        let mut out = Vec::new();
        huffman_decode(&enc::huffman(s.as_bytes()), &mut out).unwrap();
        assert_eq!(out, s.as_bytes());
    }
    // padding of 8+ bits, padding with a zero bit, and EOS inside the string
    for bad in [vec![0xff], vec![0x1f, 0xff], vec![0x00], vec![0xfe], vec![0xff, 0xff, 0xff, 0xfc]] {
        assert!(huffman_decode(&bad, &mut Vec::new()).is_err(), "{bad:?}");
    }
}

#[test]
fn table_size_updates_and_limits() {
    let mut d = Decoder::new(4096);
    let mut b = Vec::new();
    enc::indexed_literal("a", "b", true, &mut b);
    d.decode(&b, 65536).unwrap();
    assert_eq!(d.table_size(), 34);
    // size 0 empties the table; the old index is gone
    assert!(d.decode(&[0x20, 0xbe], 65536).is_err());
    assert_eq!(d.table_size(), 0);
    // above the limit; after a field
    assert!(d.decode(&[0x3f, 0xe2, 0x1f], 65536).is_err());
    assert!(d.decode(&[0x82, 0x20], 65536).is_err());
    // an entry larger than the table empties it and is not added
    let mut d = Decoder::new(64);
    let mut b = Vec::new();
    enc::indexed_literal("n", &"v".repeat(40), false, &mut b);
    assert_eq!(d.decode(&b, 65536).unwrap().len(), 1);
    assert_eq!(d.table_size(), 0);
    // header list cap
    let mut d = Decoder::new(4096);
    assert!(d.decode(&[0x82; 100], 32 * 50).is_err());
    assert!(d.decode(&[0x80], 65536).is_err());
    assert!(d.decode(&[0xbe], 65536).is_err());
}

#[test]
fn fuzz_random_blocks_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut d = Decoder::new(4096);
    for i in 0..20000 {
        let len = (next() % 64) as usize;
        let mut block: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 3 == 0 && !block.is_empty() {
            block[0] = (block[0] & 0x3f) | 0x40; // bias towards literals
        }
        let _ = d.decode(&block, 65536);
        assert!(d.table_size() <= 4096);
        if i % 100 == 0 {
            d = Decoder::new(4096);
        }
    }
}
