#!/usr/bin/env node
// Drives a live Mirra Stripe mirror's catalogue with the OFFICIAL `stripe` Node
// SDK, reaching its session by host, port and key (credential routing):
// products, prices, coupons, promotion codes and tax rates — the story of
// stripe_catalog.py.
//
// Environment:
//   MIRRA_URL            the server's root, e.g. http://127.0.0.1:4400
//   STRIPE_SECRET_KEY    the session's secret key
//   MIRRA_SDK_NODE_DIR   where infra/test installed tests/sdk/node's package.json
//
// Products (a default price made with them, custom ids, a name never empty,
// default_price only an active price of their own, lists, search, delete
// refused while priced), prices (per unit, decimal, recurring, inline
// product, tiers only when expanded, transform_quantity, lookup keys unique
// then transferred, lists, archive but never the product's default,
// tax_behavior set once, search, currency_options), coupons (custom ids
// reusable once deleted, applies_to when expanded), promotion codes
// (`promotion[coupon]`, unique among active codes in any case, of letters,
// digits and dashes only, no more redemptions than their coupon's,
// restrictions, `promotion.coupon` expanded), tax rates, each change's events in order, an
// idempotent replay, and every refusal as StripeInvalidRequestError. Every
// object must have the fields the SDK's own typings give it, and no other.
// Exits non-zero with a message on the first failure; prints one summary line.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { check, env, passed, sdk } from './checks.mjs';

const { module: Stripe, version: sdkVersion } = sdk('stripe');
const root = new URL(env('MIRRA_URL'));
const stripe = new Stripe(env('STRIPE_SECRET_KEY'), {
  host: root.hostname,
  port: Number(root.port),
  protocol: root.protocol.replace(':', ''),
  maxNetworkRetries: 0,
});

const same = (actual, expected, what) =>
  check(isDeepStrictEqual(actual, expected), `${what}: ${JSON.stringify(actual)}`);

/** The fields the SDK's typings give `iface` in resources/`file`.d.ts: required and optional. */
function typed(file, iface) {
  const dts = join(env('MIRRA_SDK_NODE_DIR'), 'node_modules/stripe/cjs/resources', `${file}.d.ts`);
  const body = readFileSync(dts, 'utf8').split(`\nexport interface ${iface} {\n`)[1].split('\n}')[0];
  const fields = [...body.matchAll(/^ {4}([a-z_]+)(\??):/gm)];
  return {
    required: fields.filter((m) => !m[2]).map((m) => m[1]),
    all: new Set(fields.map((m) => m[1])),
  };
}

const SHAPES = {
  product: typed('Products', 'Product'),
  price: typed('Prices', 'Price'),
  coupon: typed('Coupons', 'Coupon'),
  promotion_code: typed('PromotionCodes', 'PromotionCode'),
  tax_rate: typed('TaxRates', 'TaxRate'),
};

/** `obj` has every field its typings require and none they lack. */
function shaped(obj, what) {
  const shape = SHAPES[obj.object];
  const keys = Object.keys(obj).filter((k) => k !== 'lastResponse');
  const extra = keys.filter((k) => !shape.all.has(k));
  const missing = shape.required.filter((k) => !(k in obj));
  check(extra.length === 0, `${what}: a ${obj.object} with only the SDK's fields (extra ${extra})`);
  check(missing.length === 0, `${what}: a ${obj.object} with every field (missing ${missing})`);
  return obj;
}

/** The promise must reject with StripeInvalidRequestError, HTTP `status` and the given fields. */
async function refused(promise, what, { status = 400, code, param, message, contains } = {}) {
  try {
    await promise;
  } catch (e) {
    check(e instanceof Stripe.errors.StripeInvalidRequestError,
      `${what}: a StripeInvalidRequestError (got ${e?.type}: ${e?.message})`);
    check(e.statusCode === status, `${what}: HTTP ${status} (got ${e.statusCode}: ${e.message})`);
    if (code !== undefined) check(e.code === code, `${what}: code ${code} (got ${e.code}: ${e.message})`);
    if (param !== undefined) check(e.param === param, `${what}: param ${param} (got ${e.param}: ${e.message})`);
    if (message !== undefined) check(e.message === message, `${what}: the message (got ${e.message})`);
    if (contains !== undefined) check(e.message.includes(contains), `${what}: says ${contains} (${e.message})`);
    return e;
  }
  throw new Error(`${what}: expected StripeInvalidRequestError, the call succeeded`);
}

const all = async (list) => (await list.autoPagingToArray({ limit: 1000 })).map((o) => o.id);
const sorted = (xs) => [...xs].sort();

async function marker() {
  const page = await stripe.events.list({ limit: 1 });
  return page.data.length ? page.data[0].id : null;
}

async function eventsSince(mark) {
  const params = { limit: 100 };
  if (mark) params.ending_before = mark;
  const page = await stripe.events.list(params);
  return page.data.map((e) => e.type).reverse();
}

// ---------------------------------------------------------------- products
let mark = await marker();
const widget = shaped(await stripe.products.create({
  name: 'Widget', description: 'A fine widget', metadata: { line: 'tools', tier: 'a' },
  default_price_data: { currency: 'usd', unit_amount: 2500, recurring: { interval: 'month' } },
}), 'product with a default price');
check(widget.id.startsWith('prod_') && widget.active && widget.name === 'Widget', 'a product is made');
check(widget.default_price?.startsWith('price_'), 'default_price_data makes its default price');
const firstDefault = shaped(await stripe.prices.retrieve(widget.default_price), 'the default price');
same([firstDefault.product, firstDefault.unit_amount, firstDefault.type, firstDefault.recurring.interval],
  [widget.id, 2500, 'recurring', 'month'], 'the default price is what was asked');
same(await eventsSince(mark), ['product.created', 'price.created'], 'product then price created');
await refused(stripe.products.create({ description: 'no name' }), 'a product without a name', { param: 'name' });

const gadget = shaped(await stripe.products.create({ id: 'prod_node_gadget', name: 'Gadget' }), 'custom id');
check(gadget.id === 'prod_node_gadget' && gadget.default_price === null, 'a product keeps a custom id');
await refused(stripe.products.create({ id: 'prod_node_gadget', name: 'Again' }), 'a taken product id',
  { code: 'resource_already_exists' });
check((await stripe.products.retrieve(gadget.id)).name === 'Gadget', 'retrieve reads it back');

await new Promise((r) => setTimeout(r, 1100)); // `updated` moves on in whole seconds
mark = await marker();
const renamed = shaped(await stripe.products.update(widget.id, { name: 'Widget Pro', metadata: { tier: 'b' } }),
  'updated product');
check(renamed.name === 'Widget Pro' && renamed.description === 'A fine widget', 'update sets the name only');
same(renamed.metadata, { line: 'tools', tier: 'b' }, 'update merges metadata');
check(renamed.updated > widget.updated && renamed.created === widget.created, '`updated` moves on');
same(await eventsSince(mark), ['product.updated'], 'product.updated');
await refused(stripe.products.update(widget.id, { name: '' }), 'an empty name',
  { code: 'parameter_invalid_empty', param: 'name' });
check((await stripe.products.retrieve(widget.id)).name === 'Widget Pro', '… leaves the name as it was');

const foreign = await stripe.prices.create({ product: gadget.id, currency: 'usd', unit_amount: 100 });
await refused(stripe.products.update(widget.id, { default_price: foreign.id }),
  "another product's price as default_price", { param: 'default_price' });
const second = await stripe.prices.create({ product: widget.id, currency: 'usd', unit_amount: 3000 });
await stripe.prices.update(second.id, { active: false });
await refused(stripe.products.update(widget.id, { default_price: second.id }),
  'an archived price as default_price', { param: 'default_price' });
await stripe.prices.update(second.id, { active: true });
check((await stripe.products.update(widget.id, { default_price: second.id })).default_price === second.id,
  'an active price of its own becomes the default');
await refused(stripe.prices.update(second.id, { active: false }), 'archiving the default price',
  { message: 'This price cannot be archived because it is the default price of its product.' });
check((await stripe.prices.retrieve(second.id)).active === true, '… which stays active');
const withPrice = await stripe.products.retrieve(widget.id, { expand: ['default_price'] });
check(withPrice.default_price.id === second.id && withPrice.default_price.unit_amount === 3000,
  'expand default_price answers the price');
shaped(withPrice.default_price, 'the expanded default price');

const old = await stripe.products.create({ name: 'Old thing', active: false, metadata: { line: 'retired' } });
same(await all(stripe.products.list({ active: false })), [old.id], 'products list by active=false');
same(sorted(await all(stripe.products.list({ active: true }))), sorted([widget.id, gadget.id]),
  'products list by active=true');
same(sorted(await all(stripe.products.list({ ids: [widget.id, old.id] }))), sorted([widget.id, old.id]),
  'products list by ids[]');
same(await all(stripe.products.list({ limit: 1 })), [old.id, gadget.id, widget.id],
  'products auto-page newest first');
const searchProducts = async (query) => sorted(await all(stripe.products.search({ query })));
same(await searchProducts("name~'Widg'"), [widget.id], 'product search by a part of the name');
same(await searchProducts("active:'true'"), sorted([widget.id, gadget.id]), 'product search by active');
same(await searchProducts("metadata['line']:'retired'"), [old.id], 'product search by metadata');

await refused(stripe.products.del(widget.id), 'deleting a product with prices', {
  param: 'id', message: 'This product cannot be deleted because it has one or more user-created prices.',
});
mark = await marker();
const gone = await stripe.products.del(old.id);
same({ ...gone, lastResponse: undefined }, { id: old.id, object: 'product', deleted: true, lastResponse: undefined },
  'a product without prices is deleted');
same(await eventsSince(mark), ['product.deleted'], 'product.deleted');
await refused(stripe.products.retrieve(old.id), 'a deleted product', { status: 404, code: 'resource_missing' });

// ---------------------------------------------------------------- prices
const base = { product: widget.id, currency: 'usd' };
mark = await marker();
const plain = shaped(await stripe.prices.create({ ...base, unit_amount: 1500 }), 'per unit price');
check(plain.billing_scheme === 'per_unit' && plain.type === 'one_time' && plain.recurring === null,
  'a one-time per unit price');
// stripe-node reads `…_decimal` strings into its Decimal type; String() is the wire's text.
check(plain.unit_amount === 1500 && String(plain.unit_amount_decimal) === '1500',
  'unit_amount_decimal is the same number, as a decimal');
same(await eventsSince(mark), ['price.created'], 'price.created');
const dec = shaped(await stripe.prices.create({ ...base, unit_amount_decimal: '12.5' }), 'decimal price');
check(dec.unit_amount === null && String(dec.unit_amount_decimal) === '12.5', 'a fractional unit amount');
const quarterly = shaped(await stripe.prices.create({
  ...base, unit_amount: 900, recurring: { interval: 'month', interval_count: 3 } }), 'recurring price');
same([quarterly.type, quarterly.recurring.interval, quarterly.recurring.interval_count,
  quarterly.recurring.usage_type], ['recurring', 'month', 3, 'licensed'], 'every 3 months, licensed');
const inline = await stripe.prices.create({ currency: 'eur', unit_amount: 700, product_data: { name: 'Inline' } });
check(inline.product.startsWith('prod_') && inline.product !== widget.id, 'product_data makes a product');
check((await stripe.products.retrieve(inline.product)).name === 'Inline', '… with its name');
const perTen = await stripe.prices.create({ ...base, unit_amount: 1000,
  transform_quantity: { divide_by: 10, round: 'up' } });
same(perTen.transform_quantity, { divide_by: 10, round: 'up' }, 'transform_quantity');

const tiers = [{ up_to: 5, unit_amount: 1000 }, { up_to: 'inf', unit_amount: 800 }];
for (const mode of ['graduated', 'volume']) {
  const tiered = shaped(await stripe.prices.create({ ...base, billing_scheme: 'tiered', tiers_mode: mode, tiers }),
    `${mode} price`);
  check(tiered.billing_scheme === 'tiered' && tiered.tiers_mode === mode && !('tiers' in tiered),
    `a ${mode} price, no tiers unless expanded`);
  check(!('tiers' in await stripe.prices.retrieve(tiered.id)), `${mode}: no tiers on a plain retrieve`);
  const full = await stripe.prices.retrieve(tiered.id, { expand: ['tiers'] });
  const text = (t) => ({ ...t, unit_amount_decimal: t.unit_amount_decimal && String(t.unit_amount_decimal) });
  same(full.tiers.map(text), [
    { flat_amount: null, flat_amount_decimal: null, unit_amount: 1000, unit_amount_decimal: '1000', up_to: 5 },
    { flat_amount: null, flat_amount_decimal: null, unit_amount: 800, unit_amount_decimal: '800', up_to: null },
  ], `${mode}: expand tiers answers them, the last up to null`);
}
await refused(stripe.prices.create({ ...base, billing_scheme: 'tiered', tiers }), 'tiers without tiers_mode',
  { param: 'tiers_mode' });
await refused(stripe.prices.create({ ...base, billing_scheme: 'tiered', tiers_mode: 'volume',
  tiers: [{ up_to: 5, unit_amount: 1 }, { up_to: 9, unit_amount: 1 }] }), 'a last tier not up to inf',
{ param: 'tiers[1][up_to]' });
await refused(stripe.prices.create({ ...base, unit_amount: 100, unit_amount_decimal: '100' }),
  'unit_amount with unit_amount_decimal', { param: 'unit_amount' });
await refused(stripe.prices.create({ ...base, unit_amount: 100, recurring: { interval: 'month', interval_count: 37 } }),
  '37 months', { param: 'recurring[interval_count]' });

// lookup keys
const gold = await stripe.prices.create({ ...base, unit_amount: 5000, lookup_key: 'gold',
  recurring: { interval: 'month' } });
await refused(stripe.prices.create({ ...base, unit_amount: 5500, lookup_key: 'gold' }), 'a lookup key in use',
  { param: 'lookup_key', contains: 'already uses that lookup key' });
mark = await marker();
const gold2 = await stripe.prices.create({ ...base, unit_amount: 5500, lookup_key: 'gold', transfer_lookup_key: true,
  recurring: { interval: 'month' } });
check(gold2.lookup_key === 'gold' && (await stripe.prices.retrieve(gold.id)).lookup_key === null,
  'transfer_lookup_key moves the key to the new price');
// Stripe does not document which of the two comes first.
same(sorted(await eventsSince(mark)), ['price.created', 'price.updated'], 'the old price is updated too');
same(await all(stripe.prices.list({ lookup_keys: ['gold', 'nobody'] })), [gold2.id], 'prices list by lookup_keys');
same(await all(stripe.prices.list({ product: inline.product })), [inline.id], 'prices list by product');
same(sorted(await all(stripe.prices.list({ product: widget.id, type: 'recurring' }))),
  sorted([widget.default_price, quarterly.id, gold.id, gold2.id]), 'prices list by type=recurring');

mark = await marker();
const archived = await stripe.prices.update(gold.id, { active: false, nickname: 'old gold', metadata: { plan: 'gold' } });
check(!archived.active && archived.nickname === 'old gold' && archived.metadata.plan === 'gold',
  'update archives, names and tags a price');
same(await eventsSince(mark), ['price.updated'], 'price.updated');
check((await all(stripe.prices.list({ active: false }))).includes(gold.id), 'prices list by active=false');
check(!(await all(stripe.prices.list({ active: true }))).includes(gold.id), '… and not by active=true');
check((await stripe.prices.update(plain.id, { tax_behavior: 'exclusive' })).tax_behavior === 'exclusive',
  'tax_behavior set from unspecified');
await refused(stripe.prices.update(plain.id, { tax_behavior: 'inclusive' }), 'tax_behavior changed once set',
  { param: 'tax_behavior' });
same(await all(stripe.prices.search({ query: `product:'${inline.product}'` })), [inline.id], 'price search by product');
same(await all(stripe.prices.search({ query: "lookup_key:'gold'" })), [gold2.id], 'price search by lookup_key');
const multi = await stripe.prices.create({ ...base, unit_amount: 1000, currency_options: { eur: { unit_amount: 900 } } });
check(!('currency_options' in multi), 'no currency_options unless expanded');
const withOptions = await stripe.prices.retrieve(multi.id, { expand: ['currency_options'] });
same(withOptions.currency_options, { eur: { custom_unit_amount: null, tax_behavior: 'unspecified', unit_amount: 900,
  unit_amount_decimal: '900' } }, 'expand currency_options answers the euro amount');

// ---------------------------------------------------------------- coupons
mark = await marker();
const quarter = shaped(await stripe.coupons.create({ percent_off: 25, duration: 'once' }), 'percent coupon');
check(quarter.percent_off === 25 && quarter.valid === true && quarter.times_redeemed === 0, '25 % off, valid');
check(/^[A-Za-z0-9]{8}$/.test(quarter.id), `a generated coupon id (${quarter.id})`);
const five = shaped(await stripe.coupons.create({ amount_off: 500, currency: 'usd', duration: 'repeating',
  duration_in_months: 3, max_redemptions: 10 }), 'amount coupon');
same([five.amount_off, five.currency, five.duration, five.duration_in_months, five.max_redemptions],
  [500, 'usd', 'repeating', 3, 10], '$5 off for 3 months, 10 times');
await stripe.coupons.create({ id: 'SUMMER25', percent_off: 25, duration: 'forever' });
check((await stripe.coupons.retrieve('SUMMER25')).duration === 'forever', 'a coupon retrieved by its own id');
same(await eventsSince(mark), ['coupon.created', 'coupon.created', 'coupon.created'], 'coupon.created each');
await refused(stripe.coupons.create({ id: 'SUMMER25', percent_off: 5 }), 'a taken coupon id',
  { code: 'resource_already_exists' });
await refused(stripe.coupons.create({ duration: 'once' }), 'neither percent_off nor amount_off');
await refused(stripe.coupons.create({ percent_off: 150 }), '150 % off', { param: 'percent_off' });
await refused(stripe.coupons.create({ percent_off: 10, duration: 'repeating' }), 'repeating without months',
  { param: 'duration_in_months' });
await refused(stripe.coupons.create({ percent_off: 10, redeem_by: Math.floor(Date.now() / 1000) - 3600 }),
  'redeem_by in the past', { param: 'redeem_by' });
mark = await marker();
const named = await stripe.coupons.update(five.id, { name: 'Five dollars', metadata: { c: '1' } });
check(named.name === 'Five dollars' && named.metadata.c === '1', 'update renames and tags a coupon');
same(await eventsSince(mark), ['coupon.updated'], 'coupon.updated');
const scoped = await stripe.coupons.create({ percent_off: 10, applies_to: { products: [widget.id] } });
check(!('applies_to' in scoped), 'no applies_to unless expanded');
same((await stripe.coupons.retrieve(scoped.id, { expand: ['applies_to'] })).applies_to, { products: [widget.id] },
  'expand applies_to answers the products');
same(await all(stripe.coupons.list({ limit: 2 })), [scoped.id, 'SUMMER25', five.id, quarter.id],
  'coupons auto-page newest first');
mark = await marker();
check((await stripe.coupons.del('SUMMER25')).deleted === true, 'a coupon is deleted');
await refused(stripe.coupons.retrieve('SUMMER25'), 'a deleted coupon', { status: 404, code: 'resource_missing' });
check((await stripe.coupons.create({ id: 'SUMMER25', percent_off: 30 })).percent_off === 30,
  "a deleted coupon's id is free again");
same(await eventsSince(mark), ['coupon.deleted', 'coupon.created'], 'coupon.deleted, then created');

// idempotency
const key = `node-catalogue-${Date.now()}`;
mark = await marker();
const once = await stripe.coupons.create({ percent_off: 15 }, { idempotencyKey: key });
const replay = await stripe.coupons.create({ percent_off: 15 }, { idempotencyKey: key });
check(once.id === replay.id, 'the same idempotency key answers the same coupon');
same(await eventsSince(mark), ['coupon.created'], '… made once (one coupon.created)');

// ---------------------------------------------------------------- promotion codes
const promotion = { type: 'coupon', coupon: quarter.id };
mark = await marker();
const spring = shaped(await stripe.promotionCodes.create({ promotion, code: 'SPRING' }), 'promotion code');
check(spring.id.startsWith('promo_') && spring.code === 'SPRING' && spring.active, 'a code for a coupon');
same(spring.promotion, { coupon: quarter.id, type: 'coupon' }, 'promotion: {type: coupon, coupon: ID}');
check(!('coupon' in spring), 'no top-level coupon in the pinned version');
const generated = await stripe.promotionCodes.create({ promotion });
check(/^[A-Z0-9]{8}$/.test(generated.code), `a generated code (${generated.code})`);
same(await eventsSince(mark), ['promotion_code.created', 'promotion_code.created'], 'promotion_code.created each');
await refused(stripe.promotionCodes.create({ promotion, code: 'spring' }), 'an active code in another case',
  { code: 'resource_already_exists', param: 'code' });
mark = await marker();
check((await stripe.promotionCodes.update(spring.id, { active: false })).active === false, 'a code deactivated');
same(await eventsSince(mark), ['promotion_code.updated'], 'promotion_code.updated');
const lower = await stripe.promotionCodes.create({ promotion, code: 'spring' });
check(lower.code === 'spring' && lower.active, 'the code is free once the first is inactive');
await refused(stripe.promotionCodes.update(spring.id, { active: true }), 'reactivating a code taken meanwhile',
  { code: 'resource_already_exists' });
const customer = await stripe.customers.create({ email: 'node-promo@example.com' });
const mine = await stripe.promotionCodes.create({ promotion, customer: customer.id, max_redemptions: 1 });
check(mine.customer === customer.id && mine.max_redemptions === 1, 'a code for one customer, once');
await refused(stripe.promotionCodes.create({ promotion, customer: 'cus_nobody' }), 'an unknown customer',
  { param: 'customer' });
const limited = await stripe.promotionCodes.create({ promotion, restrictions: {
  minimum_amount: 1000, minimum_amount_currency: 'usd', first_time_transaction: true } });
same([limited.restrictions.minimum_amount, limited.restrictions.minimum_amount_currency,
  limited.restrictions.first_time_transaction], [1000, 'usd', true], 'restrictions as given');
await refused(stripe.promotionCodes.create({ promotion, restrictions: { minimum_amount: 1000 } }),
  'a minimum amount without its currency', { param: 'restrictions[minimum_amount_currency]' });
await refused(stripe.promotionCodes.create({ promotion, expires_at: Math.floor(Date.now() / 1000) - 60 }),
  'expires_at in the past', { param: 'expires_at' });
await refused(stripe.promotionCodes.create({ promotion, code: 'A_B' }), 'a code with an underscore',
  { param: 'code' });
const capped = { type: 'coupon', coupon: (await stripe.coupons.create({ percent_off: 5, max_redemptions: 2 })).id };
await refused(stripe.promotionCodes.create({ promotion: capped, max_redemptions: 3 }),
  'more redemptions than its coupon allows', { param: 'max_redemptions' });
check((await stripe.promotionCodes.create({ promotion: capped, max_redemptions: 2 })).max_redemptions === 2,
  'as many redemptions as its coupon allows');
same(await all(stripe.promotionCodes.list({ code: 'Spring' })), [lower.id, spring.id],
  'promotion codes list by code, any case');
same(await all(stripe.promotionCodes.list({ coupon: quarter.id, active: false })), [spring.id],
  'promotion codes list by coupon and active=false');
same((await all(stripe.promotionCodes.list({ coupon: quarter.id }))).length, 5, "all five of the coupon's codes");
const expanded = await stripe.promotionCodes.retrieve(lower.id, { expand: ['promotion.coupon'] });
check(expanded.promotion.coupon.id === quarter.id && expanded.promotion.coupon.percent_off === 25,
  'expand promotion.coupon answers the coupon');
shaped(expanded.promotion.coupon, 'the expanded coupon');

// ---------------------------------------------------------------- tax rates
mark = await marker();
const vat = shaped(await stripe.taxRates.create({ display_name: 'VAT', percentage: 20, inclusive: false,
  country: 'DE', jurisdiction: 'DE' }), 'tax rate');
same([vat.percentage, vat.effective_percentage, vat.rate_type, vat.active, vat.country, vat.jurisdiction],
  [20, 20, 'percentage', true, 'DE', 'DE'], 'a 20 % German rate');
const gst = await stripe.taxRates.create({ display_name: 'GST', percentage: 10, inclusive: true });
await refused(stripe.taxRates.create({ display_name: 'Bad', percentage: 150, inclusive: false }), '150 %',
  { param: 'percentage' });
const mwst = shaped(await stripe.taxRates.update(vat.id, { display_name: 'MwSt', metadata: { k: 'v' } }), 'updated');
check(mwst.display_name === 'MwSt' && mwst.metadata.k === 'v' && mwst.percentage === 20, 'update renames a rate');
await refused(stripe.taxRates.update(vat.id, { percentage: 19 }), 'changing the percentage',
  { code: 'parameter_unknown', param: 'percentage' });
check((await stripe.taxRates.update(gst.id, { active: false })).active === false, 'a rate archived');
same(await eventsSince(mark), ['tax_rate.created', 'tax_rate.created', 'tax_rate.updated', 'tax_rate.updated'],
  'tax rate events in order');
same(await all(stripe.taxRates.list({ inclusive: true })), [gst.id], 'tax rates list by inclusive');
same(await all(stripe.taxRates.list({ active: false })), [gst.id], 'tax rates list by active=false');
same(await all(stripe.taxRates.list({ active: true })), [vat.id], '… and active=true');

console.log(`stripe-node ${sdkVersion} against ${root.origin}: ${passed()} catalogue checks passed`);
