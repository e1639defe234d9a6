//! The Stripe mirror's route table: one line per emulated operation, named by
//! its operation id in Stripe's OpenAPI document.

use std::sync::LazyLock;

use axum::http::Method;
use serde_json::Value;

use super::checkout::{self, complete as checkout_complete};
use super::error::StripeError;
use super::invoices::{self, collect, lines};
use super::payment_intents::{self as pi, confirm};
use super::payment_methods as pm;
use super::pipeline::Call;
use super::setup_intents as si;
use super::{balance_transactions as txn, charges, refunds};
use super::{billing_portal, billing_settings};
use super::{coupons, customers, events, webhook_endpoints};
use super::{invoice_items, subscription_items, subscriptions};
use super::{prices, products, promotion_codes, tax_rates, test_clocks};
use crate::mirrors::toolkit::route::{Route, Routes};

/// A resource operation: behaviour on a [`Call`], returning the object to render.
pub type Handler = fn(&Call) -> Result<Value, StripeError>;

pub fn table() -> &'static Routes<Handler> {
    static TABLE: LazyLock<Routes<Handler>> = LazyLock::new(|| {
        let r = |method: Method, template, operation, handler: Handler| Route {
            method,
            template,
            operation,
            handler,
        };
        use Method as M;
        #[rustfmt::skip]
        let routes = vec![
            r(M::GET,    "/v1/balance_transactions", "GetBalanceTransactions", txn::list),
            r(M::GET,    "/v1/balance_transactions/{id}", "GetBalanceTransactionsId", txn::retrieve),
            r(M::POST,   "/v1/billing_portal/sessions", "PostBillingPortalSessions", billing_portal::create),
            r(M::GET,    "/v1/charges", "GetCharges", charges::list),
            r(M::GET,    "/v1/charges/search", "GetChargesSearch", charges::search),
            r(M::GET,    "/v1/charges/{charge}", "GetChargesCharge", charges::retrieve),
            r(M::POST,   "/v1/charges/{charge}", "PostChargesCharge", charges::update),
            r(M::GET,    "/v1/checkout/sessions", "GetCheckoutSessions", checkout::list),
            r(M::POST,   "/v1/checkout/sessions", "PostCheckoutSessions", checkout::create),
            r(M::GET,    "/v1/checkout/sessions/{session}", "GetCheckoutSessionsSession", checkout::retrieve),
            r(M::POST,   "/v1/checkout/sessions/{session}/expire", "PostCheckoutSessionsSessionExpire", checkout::expire),
            r(M::GET,    "/v1/checkout/sessions/{session}/line_items", "GetCheckoutSessionsSessionLineItems", checkout::list_line_items),
            r(M::GET,    "/v1/coupons", "GetCoupons", coupons::list),
            r(M::POST,   "/v1/coupons", "PostCoupons", coupons::create),
            r(M::GET,    "/v1/coupons/{coupon}", "GetCouponsCoupon", coupons::retrieve),
            r(M::POST,   "/v1/coupons/{coupon}", "PostCouponsCoupon", coupons::update),
            r(M::DELETE, "/v1/coupons/{coupon}", "DeleteCouponsCoupon", coupons::delete),
            r(M::GET,    "/v1/customers", "GetCustomers", customers::list),
            r(M::POST,   "/v1/customers", "PostCustomers", customers::create),
            r(M::GET,    "/v1/customers/search", "GetCustomersSearch", customers::search),
            r(M::GET,    "/v1/customers/{customer}", "GetCustomersCustomer", customers::retrieve),
            r(M::POST,   "/v1/customers/{customer}", "PostCustomersCustomer", customers::update),
            r(M::DELETE, "/v1/customers/{customer}", "DeleteCustomersCustomer", customers::delete),
            r(M::GET,    "/v1/customers/{customer}/payment_methods", "GetCustomersCustomerPaymentMethods", pm::customer_list),
            r(M::GET,    "/v1/events", "GetEvents", events::list),
            r(M::GET,    "/v1/events/{id}", "GetEventsId", events::retrieve),
            r(M::GET,    "/v1/invoiceitems", "GetInvoiceitems", invoice_items::list),
            r(M::POST,   "/v1/invoiceitems", "PostInvoiceitems", invoice_items::create),
            r(M::GET,    "/v1/invoiceitems/{invoiceitem}", "GetInvoiceitemsInvoiceitem", invoice_items::retrieve),
            r(M::POST,   "/v1/invoiceitems/{invoiceitem}", "PostInvoiceitemsInvoiceitem", invoice_items::update),
            r(M::DELETE, "/v1/invoiceitems/{invoiceitem}", "DeleteInvoiceitemsInvoiceitem", invoice_items::delete),
            r(M::GET,    "/v1/invoices", "GetInvoices", invoices::list),
            r(M::POST,   "/v1/invoices", "PostInvoices", invoices::create),
            r(M::POST,   "/v1/invoices/create_preview", "PostInvoicesCreatePreview", invoices::preview::create_preview),
            r(M::GET,    "/v1/invoices/search", "GetInvoicesSearch", invoices::search),
            r(M::GET,    "/v1/invoices/{invoice}", "GetInvoicesInvoice", invoices::retrieve),
            r(M::POST,   "/v1/invoices/{invoice}", "PostInvoicesInvoice", invoices::update),
            r(M::DELETE, "/v1/invoices/{invoice}", "DeleteInvoicesInvoice", invoices::delete),
            r(M::POST,   "/v1/invoices/{invoice}/finalize", "PostInvoicesInvoiceFinalize", collect::finalize),
            r(M::GET,    "/v1/invoices/{invoice}/lines", "GetInvoicesInvoiceLines", lines::list),
            r(M::POST,   "/v1/invoices/{invoice}/mark_uncollectible", "PostInvoicesInvoiceMarkUncollectible", collect::mark_uncollectible),
            r(M::POST,   "/v1/invoices/{invoice}/pay", "PostInvoicesInvoicePay", collect::pay),
            r(M::POST,   "/v1/invoices/{invoice}/send", "PostInvoicesInvoiceSend", collect::send),
            r(M::POST,   "/v1/invoices/{invoice}/void", "PostInvoicesInvoiceVoid", collect::void),
            r(M::GET,    "/v1/payment_intents", "GetPaymentIntents", pi::list),
            r(M::POST,   "/v1/payment_intents", "PostPaymentIntents", pi::create),
            r(M::GET,    "/v1/payment_intents/search", "GetPaymentIntentsSearch", pi::search),
            r(M::GET,    "/v1/payment_intents/{intent}", "GetPaymentIntentsIntent", pi::retrieve),
            r(M::POST,   "/v1/payment_intents/{intent}", "PostPaymentIntentsIntent", pi::update),
            r(M::POST,   "/v1/payment_intents/{intent}/cancel", "PostPaymentIntentsIntentCancel", pi::cancel),
            r(M::POST,   "/v1/payment_intents/{intent}/capture", "PostPaymentIntentsIntentCapture", pi::capture),
            r(M::POST,   "/v1/payment_intents/{intent}/confirm", "PostPaymentIntentsIntentConfirm", confirm::confirm),
            r(M::GET,    "/v1/payment_methods", "GetPaymentMethods", pm::list),
            r(M::POST,   "/v1/payment_methods", "PostPaymentMethods", pm::create),
            r(M::GET,    "/v1/payment_methods/{payment_method}", "GetPaymentMethodsPaymentMethod", pm::retrieve),
            r(M::POST,   "/v1/payment_methods/{payment_method}", "PostPaymentMethodsPaymentMethod", pm::update),
            r(M::POST,   "/v1/payment_methods/{payment_method}/attach", "PostPaymentMethodsPaymentMethodAttach", pm::attach),
            r(M::POST,   "/v1/payment_methods/{payment_method}/detach", "PostPaymentMethodsPaymentMethodDetach", pm::detach),
            r(M::GET,    "/v1/prices", "GetPrices", prices::list),
            r(M::POST,   "/v1/prices", "PostPrices", prices::create),
            r(M::GET,    "/v1/prices/search", "GetPricesSearch", prices::search),
            r(M::GET,    "/v1/prices/{price}", "GetPricesPrice", prices::retrieve),
            r(M::POST,   "/v1/prices/{price}", "PostPricesPrice", prices::update),
            r(M::GET,    "/v1/products", "GetProducts", products::list),
            r(M::POST,   "/v1/products", "PostProducts", products::create),
            r(M::GET,    "/v1/products/search", "GetProductsSearch", products::search),
            r(M::GET,    "/v1/products/{id}", "GetProductsId", products::retrieve),
            r(M::POST,   "/v1/products/{id}", "PostProductsId", products::update),
            r(M::DELETE, "/v1/products/{id}", "DeleteProductsId", products::delete),
            r(M::GET,    "/v1/promotion_codes", "GetPromotionCodes", promotion_codes::list),
            r(M::POST,   "/v1/promotion_codes", "PostPromotionCodes", promotion_codes::create),
            r(M::GET,    "/v1/promotion_codes/{promotion_code}", "GetPromotionCodesPromotionCode", promotion_codes::retrieve),
            r(M::POST,   "/v1/promotion_codes/{promotion_code}", "PostPromotionCodesPromotionCode", promotion_codes::update),
            r(M::GET,    "/v1/refunds", "GetRefunds", refunds::list),
            r(M::POST,   "/v1/refunds", "PostRefunds", refunds::create),
            r(M::GET,    "/v1/refunds/{refund}", "GetRefundsRefund", refunds::retrieve),
            r(M::POST,   "/v1/refunds/{refund}", "PostRefundsRefund", refunds::update),
            r(M::POST,   "/v1/refunds/{refund}/cancel", "PostRefundsRefundCancel", refunds::cancel),
            r(M::GET,    "/v1/setup_intents", "GetSetupIntents", si::list),
            r(M::POST,   "/v1/setup_intents", "PostSetupIntents", si::create),
            r(M::GET,    "/v1/setup_intents/{intent}", "GetSetupIntentsIntent", si::retrieve),
            r(M::POST,   "/v1/setup_intents/{intent}", "PostSetupIntentsIntent", si::update),
            r(M::POST,   "/v1/setup_intents/{intent}/cancel", "PostSetupIntentsIntentCancel", si::cancel),
            r(M::POST,   "/v1/setup_intents/{intent}/confirm", "PostSetupIntentsIntentConfirm", si::confirm),
            r(M::GET,    "/v1/subscription_items", "GetSubscriptionItems", subscription_items::list),
            r(M::POST,   "/v1/subscription_items", "PostSubscriptionItems", subscription_items::create),
            r(M::GET,    "/v1/subscription_items/{item}", "GetSubscriptionItemsItem", subscription_items::retrieve),
            r(M::POST,   "/v1/subscription_items/{item}", "PostSubscriptionItemsItem", subscription_items::update),
            r(M::DELETE, "/v1/subscription_items/{item}", "DeleteSubscriptionItemsItem", subscription_items::delete),
            r(M::GET,    "/v1/subscriptions", "GetSubscriptions", subscriptions::list),
            r(M::POST,   "/v1/subscriptions", "PostSubscriptions", subscriptions::create),
            r(M::GET,    "/v1/subscriptions/search", "GetSubscriptionsSearch", subscriptions::search),
            r(M::GET,    "/v1/subscriptions/{subscription_exposed_id}", "GetSubscriptionsSubscriptionExposedId", subscriptions::retrieve),
            r(M::POST,   "/v1/subscriptions/{subscription_exposed_id}", "PostSubscriptionsSubscriptionExposedId", subscriptions::update),
            r(M::DELETE, "/v1/subscriptions/{subscription_exposed_id}", "DeleteSubscriptionsSubscriptionExposedId", subscriptions::cancel),
            r(M::POST,   "/v1/subscriptions/{subscription}/resume", "PostSubscriptionsSubscriptionResume", subscriptions::resume),
            r(M::GET,    "/v1/tax_rates", "GetTaxRates", tax_rates::list),
            r(M::POST,   "/v1/tax_rates", "PostTaxRates", tax_rates::create),
            r(M::GET,    "/v1/tax_rates/{tax_rate}", "GetTaxRatesTaxRate", tax_rates::retrieve),
            r(M::POST,   "/v1/tax_rates/{tax_rate}", "PostTaxRatesTaxRate", tax_rates::update),
            r(M::GET,    "/v1/test_helpers/test_clocks", "GetTestHelpersTestClocks", test_clocks::list),
            r(M::POST,   "/v1/test_helpers/test_clocks", "PostTestHelpersTestClocks", test_clocks::create),
            r(M::GET,    "/v1/test_helpers/test_clocks/{test_clock}", "GetTestHelpersTestClocksTestClock", test_clocks::retrieve),
            r(M::DELETE, "/v1/test_helpers/test_clocks/{test_clock}", "DeleteTestHelpersTestClocksTestClock", test_clocks::delete),
            r(M::POST,   "/v1/test_helpers/test_clocks/{test_clock}/advance", "PostTestHelpersTestClocksTestClockAdvance", test_clocks::advance),
            r(M::GET,    "/v1/webhook_endpoints", "GetWebhookEndpoints", webhook_endpoints::list),
            r(M::POST,   "/v1/webhook_endpoints", "PostWebhookEndpoints", webhook_endpoints::create),
            r(M::GET,    "/v1/webhook_endpoints/{webhook_endpoint}", "GetWebhookEndpointsWebhookEndpoint", webhook_endpoints::retrieve),
            r(M::POST,   "/v1/webhook_endpoints/{webhook_endpoint}", "PostWebhookEndpointsWebhookEndpoint", webhook_endpoints::update),
            r(M::DELETE, "/v1/webhook_endpoints/{webhook_endpoint}", "DeleteWebhookEndpointsWebhookEndpoint", webhook_endpoints::delete),
            // ── Mirra's own operations, not Stripe's: test helpers. Named `Mirra…`;
            // their parameter schemas are `mirra_operations.json` (params.rs). ──
            r(M::GET,    "/v1/test_helpers/mirra/billing_settings", "MirraGetTestHelpersBillingSettings", billing_settings::retrieve),
            r(M::POST,   "/v1/test_helpers/mirra/billing_settings", "MirraPostTestHelpersBillingSettings", billing_settings::update),
            r(M::POST,   "/v1/test_helpers/mirra/checkout/sessions/{session}/complete", "MirraPostTestHelpersCheckoutSessionsSessionComplete", checkout_complete::complete),
            r(M::POST,   "/v1/test_helpers/mirra/payment_intents/{intent}/authenticate", "MirraPostTestHelpersPaymentIntentsIntentAuthenticate", confirm::authenticate),
            r(M::POST,   "/v1/test_helpers/mirra/refunds/{refund}/settle", "MirraPostTestHelpersRefundsRefundSettle", refunds::settle),
            r(M::POST,   "/v1/test_helpers/mirra/setup_intents/{intent}/authenticate", "MirraPostTestHelpersSetupIntentsIntentAuthenticate", si::authenticate),
        ];
        Routes::new(routes)
    });
    &TABLE
}
