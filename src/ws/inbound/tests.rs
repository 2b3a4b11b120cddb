use super::*;

#[test]
fn the_declared_length_is_read_from_the_header_alone() {
    assert_eq!(declared_length(&[0x81]), None);
    assert_eq!(declared_length(&[0x81, 0x85]), Some(5));
    assert_eq!(declared_length(&[0x81, 0xFE, 0x01]), None);
    assert_eq!(declared_length(&[0x81, 0xFE, 0x01, 0x00]), Some(256));
    let mut huge = vec![0x82, 0xFF];
    huge.extend((1u64 << 62).to_be_bytes());
    assert_eq!(declared_length(&huge), Some(1 << 62));
    assert_eq!(declared_length(&huge[..9]), None);
}

#[test]
fn a_frame_announcing_more_than_the_limit_fails_before_its_payload() {
    let mut header = vec![0x82, 0xFF];
    header.extend((1u64 << 62).to_be_bytes());
    header.extend([1, 2, 3, 4]);
    let mut frames = InboundFrames::new(
        tokio::io::empty(),
        BytesMut::from(&header[..]),
        FrameLimit::new(1024),
        Ending::new(std::time::Duration::from_secs(1)),
    );
    assert!(matches!(
        frames.decode_one(),
        Some(Err(InboundError::TooLarge))
    ));
    assert_eq!(frames.buf.capacity(), 0, "nothing kept");
}
