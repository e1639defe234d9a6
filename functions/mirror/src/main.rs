//! The mirror function: all mirror traffic behind API Gateway — host-routed
//! (`stripe-{suffix}.{domain}` on the wildcard custom domain), path-routed
//! (`/m/{session}/{mirror}/…`) and credential-routed. The app is the one
//! `mirra serve` runs (`shared::lambda::app`), built once per execution
//! environment; each response waits until its traces are written.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::init_tracing();
    let app = shared::lambda::app(shared::lambda::Plane::Mirrors).await?;
    lambda_http::run(app).await
}
