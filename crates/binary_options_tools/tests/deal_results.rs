//! Deal results against both forms of `successcloseOrder` (fact sheet §6), end to end over
//! loopback: the object form, whose top-level `profit` is the gross return (a draw's stake
//! coming back would look like a win, a loss's 0 like a draw), and the bare array. Results
//! must come from each deal's own net `profit` either way.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::{ASSET, within};

use std::time::Duration;

use binary_options_tools::{Decimal, Outcome, PocketOption, Ssid};
use pocketoption_sim::{CloseOrderForm, Simulator};

/// Opens a call of 10, moves the price by `move_by`, and waits for the result.
async fn settle(
    sim: &Simulator,
    client: &PocketOption,
    move_by: f64,
) -> binary_options_tools::DealResult {
    let price = sim.current_price(ASSET).unwrap();
    sim.pin_price(ASSET, price).unwrap();
    let deal = within(
        "the order",
        client.buy(ASSET, Decimal::from(10), Duration::from_secs(5)),
    )
    .await
    .unwrap();
    assert!(deal.opened_at > std::time::UNIX_EPOCH && deal.closes_at > deal.opened_at);
    sim.pin_price(ASSET, price + move_by).unwrap();
    let result = within("the result", client.result(&deal.id)).await.unwrap();
    assert_eq!(result.deal.id, deal.id);
    result
}

#[tokio::test]
async fn results_come_from_each_deal_whatever_the_close_order_form() {
    for form in [CloseOrderForm::Object, CloseOrderForm::BareArray] {
        let sim = Simulator::builder()
            .with_seed(12)
            .with_tick_interval(Duration::from_millis(50))
            .with_time_scale(10.0)
            .with_close_order_form(form)
            .start()
            .await
            .unwrap();
        let client = within(
            "connect",
            PocketOption::builder(Ssid::demo("deal-results", 77))
                .with_url(sim.url())
                .only_given_urls()
                .connect(),
        )
        .await
        .unwrap();
        let payout = Decimal::from(client.payout(ASSET).await.unwrap());
        let start_balance = client.balance().await.unwrap();

        let win = settle(&sim, &client, 0.01).await;
        assert_eq!(
            (win.outcome, win.profit),
            (
                Outcome::Win,
                Decimal::from(10) * payout / Decimal::from(100)
            ),
            "{form:?}"
        );
        let draw = settle(&sim, &client, 0.0).await;
        assert_eq!(
            (draw.outcome, draw.profit),
            (Outcome::Draw, Decimal::ZERO),
            "{form:?}"
        );
        let loss = settle(&sim, &client, -0.01).await;
        assert_eq!(
            (loss.outcome, loss.profit),
            (Outcome::Loss, Decimal::from(-10)),
            "{form:?}"
        );

        let expected = start_balance + win.profit + loss.profit;
        within("the final balance", async {
            while client.balance().await.unwrap() != expected {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert_eq!(client.closed_deals().len(), 3, "{form:?}");
        assert!(client.opened_deals().is_empty(), "{form:?}");
        client.shutdown().await.unwrap();
        sim.shutdown().await.unwrap();
    }
}
