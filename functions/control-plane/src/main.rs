//! The control-plane function: the sessions API (`/v1/sessions…`,
//! `/v1/snapshots…`, `/v1/usage`) behind API Gateway. The app is the one
//! `mirra serve` runs (`shared::lambda::app`), built once per execution
//! environment; API Gateway's routes send only control-plane paths here.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::init_tracing();
    let app = shared::lambda::app(shared::lambda::Plane::Control).await?;
    lambda_http::run(app).await
}
