//! The realistic coldbench function (contract: functions/README.md; what it does at
//! init: functions/realistic/README.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read as _;
use std::sync::atomic::{AtomicU64, Ordering};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The catalogue every realistic function parses at init, embedded in the executable
/// (Lambda's provided.al2023 package holds the executable alone).
const CATALOG: &str = include_str!("catalog.json");

/// 4,096 bytes, byte `i` is `i mod 256`.
const BUF: [u8; 4096] = {
    let mut buf = [0u8; 4096];
    let mut i = 0;
    while i < buf.len() {
        buf[i] = (i % 256) as u8;
        i += 1;
    }
    buf
};

#[derive(Deserialize)]
#[allow(dead_code)] // read as a function would, not all of it used
struct Product {
    id: u64,
    sku: String,
    name: String,
    category: String,
    description: String,
    price_cents: u64,
    currency: String,
    active: bool,
    tags: Vec<String>,
    stock: BTreeMap<String, u64>,
    dimensions_mm: BTreeMap<String, u64>,
    rating: f64,
}

#[derive(Deserialize)]
struct Catalog {
    products: Vec<Product>,
}

/// What one execution environment sets up during init.
struct Environment {
    instance_id: String,
    initialization_type: String,
    invocations: AtomicU64,
    catalog: Catalog,
    s3: aws_sdk_s3::Client,
    routes: matchit::Router<&'static str>,
}

impl Environment {
    async fn new() -> Result<Self, Error> {
        let mut random = [0u8; 8];
        File::open("/dev/urandom")?.read_exact(&mut random)?;
        // Region and credentials from the environment, as Lambda sets them; no request is
        // made until the client is used.
        let config = aws_config::load_from_env().await;
        let s3 = aws_sdk_s3::Client::new(&config);
        let catalog: Catalog = serde_json::from_str(CATALOG)?;
        let mut routes = matchit::Router::new();
        routes.insert("/products", "list")?;
        routes.insert("/products/{id}", "product")?;
        routes.insert("/products/{id}/stock", "stock")?;
        routes.insert("/categories/{category}", "category")?;
        Ok(Self {
            instance_id: hex(&random),
            initialization_type: std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE")
                .unwrap_or_else(|_| "on-demand".to_owned()),
            invocations: AtomicU64::new(0),
            catalog,
            s3,
            routes,
        })
    }
}

#[derive(Deserialize, Default)]
struct Event {
    #[serde(default)]
    work: u64,
}

#[derive(Serialize)]
struct Response {
    runtime: &'static str,
    runtime_version: &'static str,
    cold: bool,
    instance_id: String,
    invocation: u64,
    initialization_type: String,
    work: u64,
    digest: String,
    catalog_products: usize,
    sdk_region: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(out, "{b:02x}").expect("writing to a String cannot fail");
    }
    out
}

/// `work` rounds of `state = SHA256(state || BUF)`, from an empty state.
fn digest(work: u64) -> String {
    let mut state = Vec::new();
    for _ in 0..work {
        state = Sha256::new()
            .chain_update(&state)
            .chain_update(BUF)
            .finalize()
            .to_vec();
    }
    hex(&state)
}

async fn handler(env: &Environment, event: LambdaEvent<Option<Event>>) -> Result<Response, Error> {
    let invocation = env.invocations.fetch_add(1, Ordering::SeqCst) + 1;
    let work = event.payload.unwrap_or_default().work;
    // the route a request for the catalogue would take
    let matched = env.routes.at("/products")?;
    debug_assert_eq!(*matched.value, "list");
    Ok(Response {
        runtime: "rust",
        runtime_version: env!("COLDBENCH_RUSTC_VERSION"),
        cold: invocation == 1 && env.initialization_type != "provisioned-concurrency",
        instance_id: env.instance_id.clone(),
        invocation,
        initialization_type: env.initialization_type.clone(),
        work,
        digest: digest(work),
        catalog_products: env.catalog.products.len(),
        sdk_region: env.s3.config().region().map(|r| r.to_string()),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let env: &'static Environment = Box::leak(Box::new(Environment::new().await?));
    lambda_runtime::run(service_fn(move |event| handler(env, event))).await
}

#[cfg(test)]
mod tests {
    use super::digest;
    use std::collections::BTreeMap;

    #[test]
    fn digests_match_contract() {
        #[derive(serde::Deserialize)]
        struct Contract {
            digests: BTreeMap<String, String>,
        }
        let contract: Contract =
            serde_json::from_str(include_str!("../../../contract.json")).expect("contract.json");
        assert!(!contract.digests.is_empty());
        for (work, want) in contract.digests {
            assert_eq!(digest(work.parse().unwrap()), want, "work = {work}");
        }
    }
}
