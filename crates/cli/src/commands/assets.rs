//! `pocketoption assets`: the asset list, highest payout first, with filters.

use binary_options_tools::{Asset, AssetKind};

use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output::{self, JsonFlag};

/// List the assets, highest payout first
///
/// The assets open for trading (--closed: all), by payout then symbol. `--json`
/// prints an array of objects with `symbol`, `name`, `kind`, `payout`, `is_otc`,
/// `is_active` and `expiries` (seconds).
#[derive(Debug, clap::Args)]
pub(crate) struct AssetsArgs {
    /// Only assets paying at least this percent
    #[arg(long, value_name = "PERCENT")]
    min_payout: Option<u32>,

    /// Only OTC assets (the ones that trade around the clock)
    #[arg(long, conflicts_with = "no_otc")]
    otc: bool,

    /// Only regular (non-OTC) assets
    #[arg(long)]
    no_otc: bool,

    /// Only assets of this kind
    #[arg(long, value_enum, value_name = "KIND")]
    kind: Option<KindArg>,

    /// Include assets closed for trading right now
    #[arg(long)]
    closed: bool,

    #[command(flatten)]
    output: JsonFlag,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// `--kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KindArg {
    Currency,
    Crypto,
    Commodity,
    Stock,
    Index,
}

impl KindArg {
    fn matches(self, kind: AssetKind) -> bool {
        matches!(
            (self, kind),
            (KindArg::Currency, AssetKind::Currency)
                | (KindArg::Crypto, AssetKind::Cryptocurrency)
                | (KindArg::Commodity, AssetKind::Commodity)
                | (KindArg::Stock, AssetKind::Stock)
                | (KindArg::Index, AssetKind::Index)
        )
    }
}

fn kind_name(kind: AssetKind) -> &'static str {
    match kind {
        AssetKind::Currency => "currency",
        AssetKind::Cryptocurrency => "crypto",
        AssetKind::Commodity => "commodity",
        AssetKind::Stock => "stock",
        AssetKind::Index => "index",
        _ => "other",
    }
}

impl AssetsArgs {
    fn keeps(&self, asset: &Asset) -> bool {
        (self.closed || asset.is_active)
            && self.min_payout.is_none_or(|min| asset.payout >= min)
            && (!self.otc || asset.is_otc)
            && (!self.no_otc || !asset.is_otc)
            && self.kind.is_none_or(|kind| kind.matches(asset.kind))
    }

    pub(crate) async fn run(self) -> Result<(), CliError> {
        let session = self.connect.connect().await?;
        let assets = session.client.assets().await;
        session.close().await;
        let assets = assets?;
        let mut list: Vec<&Asset> = assets.values().filter(|a| self.keeps(a)).collect();
        list.sort_by(|a, b| b.payout.cmp(&a.payout).then(a.symbol.cmp(&b.symbol)));
        if self.output.json {
            return output::json(&list);
        }
        if list.is_empty() {
            output::line("no asset matches these filters");
            return Ok(());
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|a| {
                let expiries = match (a.expiries.iter().min(), a.expiries.iter().max()) {
                    (Some(min), Some(max)) => format!(
                        "{}–{}",
                        crate::time::format_duration(std::time::Duration::from_secs((*min).into())),
                        crate::time::format_duration(std::time::Duration::from_secs((*max).into()))
                    ),
                    _ => "any".to_owned(),
                };
                vec![
                    a.symbol.clone(),
                    format!("{}%", a.payout),
                    kind_name(a.kind).to_owned(),
                    if a.is_active { "open" } else { "closed" }.to_owned(),
                    expiries,
                    a.name.clone(),
                ]
            })
            .collect();
        output::line(output::table(
            &["symbol", "payout", "kind", "trading", "expiries", "name"],
            &rows,
            &[1],
        ));
        Ok(())
    }
}
