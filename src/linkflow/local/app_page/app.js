// linkflow's example app: the whole frontend side of sign-up, sign-in, checkout and the portal.
//
// config.json (served next to this page by the local stack; a deployed app bakes these in):
//   {"region", "cognito_endpoint", "user_pool_id", "client_id", "api", "prices": [lookup keys]}
// Cognito is called as the AWS SDKs call it: POST <cognito_endpoint>/ with
// X-Amz-Target: AWSCognitoIdentityProviderService.<Action> and a JSON body, no AWS credentials.
// The app's API gets the ACCESS token (an ID token is refused: it has no scope).
"use strict";

const TOKENS = "linkflow.tokens";
let config = null;

const $ = (id) => document.getElementById(id);
const say = (text) => { $("message").textContent = text || ""; };

async function cognito(action, body) {
  const answer = await fetch(config.cognito_endpoint, {
    method: "POST",
    headers: {"Content-Type": "application/x-amz-json-1.1",
              "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`},
    body: JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    throw new Error(data.message || data.Message || `${action} failed (${answer.status})`);
  }
  return data;
}

function tokens() { return JSON.parse(sessionStorage.getItem(TOKENS) || "null"); }
function keep(result, refresh) {
  sessionStorage.setItem(TOKENS, JSON.stringify({
    access: result.AccessToken, id: result.IdToken, refresh: result.RefreshToken || refresh}));
}

async function refreshTokens() {
  const current = tokens();
  if (!current || !current.refresh) return false;
  try {
    const data = await cognito("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH", ClientId: config.client_id,
      AuthParameters: {REFRESH_TOKEN: current.refresh}});
    keep(data.AuthenticationResult, current.refresh);
    return true;
  } catch (error) {
    return false;
  }
}

// The app's API with the access token; one refresh on a 401 (the access token lasts an hour).
async function api(method, path, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const current = tokens();
    const answer = await fetch(config.api + path, {
      method,
      headers: {"Authorization": `Bearer ${current ? current.access : ""}`,
                ...(body === undefined ? {} : {"Content-Type": "application/json"})},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await answer.json().catch(() => ({}));
    if (answer.status === 401 && attempt === 0 && await refreshTokens()) continue;
    if (answer.status === 401) { signOut(); }
    if (!answer.ok) throw new Error(data.message || `${method} ${path} failed (${answer.status})`);
    return data;
  }
  throw new Error("unreachable");
}

function show(signedIn) {
  $("signed-in").hidden = !signedIn;
  $("signed-out").hidden = signedIn;
}

function signOut() {
  sessionStorage.removeItem(TOKENS);
  show(false);
}

const when = (epoch) => epoch ? new Date(Number(epoch) * 1000).toISOString().slice(0, 10) : "—";

async function loadMe() {
  const me = await api("GET", "/me");
  const e = me.entitlement;
  $("email").textContent = me.email || me.sub;
  $("status").textContent = e.status;
  $("plan").textContent = e.plan || "—";
  $("features").textContent = e.features.length ? e.features.join(", ") : "none";
  $("period-end").textContent = when(e.current_period_end);
  $("cancel-at-period-end").textContent = e.cancel_at_period_end ? "yes" : "no";
  $("subscribe").disabled = ["active", "trialing", "past_due"].includes(e.status);
  $("manage").disabled = false;
  return me;
}

// Stripe's webhooks reach linkflow a moment after the redirect back: read /me until the
// entitlement has changed and then held still for three reads (or the time is up).
async function follow(seconds) {
  let last = JSON.stringify((await loadMe()).entitlement);
  let changed = false;
  let still = 0;
  for (let i = 0; i < seconds && !(changed && still >= 3); i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = JSON.stringify((await loadMe()).entitlement);
    changed = changed || now !== last;
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

function form(id) { return Object.fromEntries(new FormData($(id))); }

function wire() {
  $("sign-up-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form("sign-up-form");
    try {
      await cognito("SignUp", {
        ClientId: config.client_id, Username: f.email, Password: f.password,
        UserAttributes: [{Name: "email", Value: f.email}, {Name: "given_name", Value: f.given_name},
                         {Name: "family_name", Value: f.family_name}]});
      $("confirm-email").textContent = f.email;
      $("confirm-form").dataset.email = f.email;
      $("sign-in-form").elements.email.value = f.email;
      $("sign-up-form").hidden = true;
      $("confirm-form").hidden = false;
      say("Signed up: check your email for the confirmation code.");
    } catch (error) { say(error.message); }
  });

  $("confirm-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await cognito("ConfirmSignUp", {ClientId: config.client_id, Username: $("confirm-form").dataset.email,
                                      ConfirmationCode: form("confirm-form").code});
      $("confirm-form").hidden = true;
      $("sign-up-form").hidden = false;
      say("Confirmed: sign in.");
    } catch (error) { say(error.message); }
  });

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form("sign-in-form");
    try {
      const data = await cognito("InitiateAuth", {
        AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.client_id,
        AuthParameters: {USERNAME: f.email, PASSWORD: f.password}});
      keep(data.AuthenticationResult);
      show(true);
      say("");
      await loadMe();
    } catch (error) { say(error.message); }
  });

  $("subscribe").addEventListener("click", async () => {
    try {
      const {url} = await api("POST", "/billing/checkout-session", {price: $("price").value});
      window.location.assign(url);  // Stripe Checkout; it comes back to ?checkout=success or cancel
    } catch (error) { say(error.message); }
  });

  $("manage").addEventListener("click", async () => {
    try {
      const back = `${window.location.origin}${window.location.pathname}?portal=return`;
      const {url} = await api("POST", "/billing/portal-session", {return_url: back});
      window.location.assign(url);  // Stripe's customer portal; "Return" comes back here
    } catch (error) { say(error.message); }
  });

  $("refresh").addEventListener("click", () => loadMe().catch((error) => say(error.message)));
  $("sign-out").addEventListener("click", signOut);
}

async function main() {
  config = await (await fetch("config.json")).json();
  for (const price of config.prices) {
    $("price").append(new Option(price, price));
  }
  wire();
  if (!tokens()) { show(false); return; }
  show(true);
  const params = new URLSearchParams(window.location.search);
  try {
    if (params.get("checkout") === "success") say("Payment received: your plan is on its way.");
    if (params.get("checkout") === "cancel") say("Checkout canceled.");
    if (params.has("checkout") || params.has("portal")) await follow(20);
    else await loadMe();
  } catch (error) { say(error.message); }
}

main();
