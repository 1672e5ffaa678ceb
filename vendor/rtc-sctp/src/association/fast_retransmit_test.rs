//! webswarm patch: fast retransmit in fast recovery (the HTNA rule (a)
//! holds there too) and for a retransmission that is lost again.
use super::*;
use crate::chunk::chunk_selective_ack::GapAckBlock;

/// An established association with wide windows and a 1 s RTO.
fn established() -> Association {
    let mut a = create_association(TransportConfig::default());
    a.control_queue.clear();
    a.timers.stop(Timer::T1Init);
    a.set_state(AssociationState::Established);
    a.rwnd = 1 << 20;
    a.cwnd = 1 << 20;
    a.rto_mgr.set_rto(1000, true);
    a
}

/// Writes `n` one-chunk messages and sends them; their TSNs.
fn send(a: &mut Association, now: Instant, n: usize) -> Result<Vec<u32>> {
    let ppi = PayloadProtocolIdentifier::Binary;
    if a.stream(1).is_err() {
        a.open_stream(1, ppi)?;
    }
    let mut s = a.stream(1)?;
    for _ in 0..n {
        s.write_sctp(now, &Bytes::from(vec![7; 100]), ppi)?;
    }
    Ok(transmitted_data(&a.gather_outbound(now).0)
        .iter()
        .map(|c| c.tsn)
        .collect())
}

/// A SACK acknowledging up to `cum` and the TSNs `cum + s ..= cum + e` of each block.
fn sack(a: &mut Association, now: Instant, cum: u32, blocks: &[(u16, u16)]) -> Result<()> {
    let d = ChunkSelectiveAck {
        cumulative_tsn_ack: cum,
        advertised_receiver_window_credit: 1 << 20,
        gap_ack_blocks: blocks
            .iter()
            .map(|&(start, end)| GapAckBlock { start, end })
            .collect(),
        duplicate_tsn: vec![],
    };
    a.handle_sack(&d, now)?;
    Ok(())
}

/// TSNs sent again (fast retransmissions) by the next gather.
fn resent(a: &mut Association, now: Instant) -> Vec<u32> {
    transmitted_data(&a.gather_outbound(now).0)
        .iter()
        .map(|c| c.tsn)
        .collect()
}

#[test]
fn a_second_loss_in_fast_recovery_is_retransmitted_without_waiting_for_t3() -> Result<()> {
    let mut a = established();
    let now = Instant::now();
    let t = send(&mut a, now, 12)?;
    let cum = t[0].wrapping_sub(1);
    // t[0] and t[5] are lost; t[1..5] arrive: three SACKs report t[0] missing.
    for k in 2..=4u16 {
        sack(&mut a, now, cum, &[(2, k)])?;
    }
    assert!(a.in_fast_recovery);
    assert_eq!(vec![t[0]], resent(&mut a, now));
    // t[6..] arrive, the cumulative point stays put (t[0]'s retransmission is
    // on its way): each newly acknowledged TSN above t[5] is a miss report.
    for k in 7..=9u16 {
        sack(&mut a, now, cum, &[(2, 5), (7, k)])?;
    }
    assert_eq!(vec![t[5]], resent(&mut a, now), "upstream waited for T3-rtx here");
    assert_eq!(2, a.stats.get_num_fast_retrans());
    assert_eq!(0, a.stats.get_num_t3timeouts());
    Ok(())
}

#[test]
fn a_lost_retransmission_is_retransmitted_again_after_later_data_is_acknowledged() -> Result<()> {
    let mut a = established();
    let now = Instant::now();
    let t = send(&mut a, now, 5)?;
    let cum = t[0].wrapping_sub(1);
    for k in 2..=4u16 {
        sack(&mut a, now, cum, &[(2, k)])?;
    }
    assert_eq!(vec![t[0]], resent(&mut a, now));
    // A late duplicate report of what was acknowledged before the
    // retransmission is not a miss report for it.
    sack(&mut a, now, cum, &[(2, 5)])?;
    assert!(resent(&mut a, now).is_empty());
    // Three new messages are sent after the retransmission and acknowledged
    // while t[0] is still missing: the retransmission was lost too.
    let u = send(&mut a, now, 3)?;
    assert_eq!(u[0], t[4].wrapping_add(1));
    for k in 6..=8u16 {
        sack(&mut a, now, cum, &[(2, k)])?;
    }
    assert_eq!(vec![t[0]], resent(&mut a, now), "upstream waited for T3-rtx here");
    assert_eq!(3, a.inflight_queue.get(t[0]).map_or(0, |c| c.nsent));
    assert_eq!(0, a.stats.get_num_t3timeouts());
    Ok(())
}

#[test]
fn data_beyond_the_last_gap_block_is_in_flight_not_missing() -> Result<()> {
    let mut a = established();
    let now = Instant::now();
    let t = send(&mut a, now, 12)?;
    let cum = t[0].wrapping_sub(1);
    // t[0] and t[2] are lost; t[1], t[3], t[4] arrive.
    sack(&mut a, now, cum, &[(2, 2)])?;
    sack(&mut a, now, cum, &[(2, 2), (4, 4)])?;
    sack(&mut a, now, cum, &[(2, 2), (4, 5)])?;
    assert!(a.in_fast_recovery);
    assert_eq!(vec![t[0]], resent(&mut a, now));
    // t[0]'s retransmission arrives: the cumulative point advances to t[1]
    // in fast recovery, so every TSN the SACK reports missing (t[2]) counts;
    // t[5..] were never reported, they are still on their way.
    sack(&mut a, now, t[1], &[(2, 3)])?;
    assert!(a.in_fast_recovery);
    assert_eq!(vec![t[2]], resent(&mut a, now));
    for &tsn in &t[5..] {
        assert_eq!(Some(0), a.inflight_queue.get(tsn).map(|c| c.miss_indicator));
    }
    Ok(())
}

#[test]
fn a_loss_among_three_chunks_with_nothing_more_to_send_is_retransmitted_early() -> Result<()> {
    let mut a = established();
    let now = Instant::now();
    let t = send(&mut a, now, 3)?;
    let cum = t[0].wrapping_sub(1);
    // t[0] is lost: only two SACKs can follow it.
    sack(&mut a, now, cum, &[(2, 2)])?;
    assert!(resent(&mut a, now).is_empty());
    sack(&mut a, now, cum, &[(2, 3)])?;
    assert_eq!(vec![t[0]], resent(&mut a, now), "upstream waited for T3-rtx here");
    Ok(())
}

#[test]
fn with_more_to_send_three_miss_reports_are_still_needed() -> Result<()> {
    let mut a = established();
    let now = Instant::now();
    let t = send(&mut a, now, 3)?;
    let cum = t[0].wrapping_sub(1);
    // New data waits in the pending queue (the window is full): its SACKs
    // will report t[0] missing a third time if it is lost.
    a.cwnd = 0;
    let ppi = PayloadProtocolIdentifier::Binary;
    a.stream(1)?.write_sctp(now, &Bytes::from(vec![7; 100]), ppi)?;
    sack(&mut a, now, cum, &[(2, 2)])?;
    sack(&mut a, now, cum, &[(2, 3)])?;
    assert_eq!(Some(2), a.inflight_queue.get(t[0]).map(|c| c.miss_indicator));
    Ok(())
}

#[test]
fn losses_that_do_not_fit_one_packet_are_all_retransmitted() -> Result<()> {
    let mut a = established();
    let now = Instant::now();
    let ppi = PayloadProtocolIdentifier::Binary;
    let mut s = a.open_stream(1, ppi)?;
    for _ in 0..10 {
        s.write_sctp(now, &Bytes::from(vec![7; 1000]), ppi)?;
    }
    let t: Vec<u32> = transmitted_data(&a.gather_outbound(now).0)
        .iter()
        .map(|c| c.tsn)
        .collect();
    let cum = t[0].wrapping_sub(1);
    // t[0] and t[1] are lost; three SACKs report both missing at once, and
    // one packet holds one of them.
    for k in 3..=5u16 {
        sack(&mut a, now, cum, &[(3, k)])?;
    }
    let mut again = resent(&mut a, now);
    again.extend(resent(&mut a, now));
    assert_eq!(vec![t[0], t[1]], again, "upstream left t[1] for T3-rtx");
    assert_eq!(0, a.stats.get_num_t3timeouts());
    Ok(())
}

#[test]
fn a_chunk_marked_by_t3_and_fast_retransmitted_is_not_sent_again_by_the_t3_flush() -> Result<()> {
    let mut a = established();
    let now = Instant::now();
    let t = send(&mut a, now, 3)?;
    // T3-rtx marks everything outstanding; before its flush goes out, a
    // fast retransmission sends t[1].
    let at = now + Duration::from_secs(1);
    a.handle_timeout(at);
    a.inflight_queue.get_mut(t[1]).unwrap().miss_indicator = 3;
    a.will_retransmit_fast = true;
    let fast = a.gather_outbound_fast_retransmission_packets(vec![], at);
    assert_eq!(
        vec![t[1]],
        transmitted_data(&fast).iter().map(|c| c.tsn).collect::<Vec<_>>()
    );
    let flushed: Vec<u32> = transmitted_data(&a.gather_data_packets_to_retransmit(vec![], at))
        .iter()
        .map(|c| c.tsn)
        .collect();
    assert_eq!(vec![t[0], t[2]], flushed, "upstream sent t[1] a second time");
    assert_eq!(2, a.inflight_queue.get(t[1]).unwrap().nsent);
    Ok(())
}
