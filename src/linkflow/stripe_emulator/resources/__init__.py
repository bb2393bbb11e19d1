"""One module per Stripe resource: record shapes, rules and the routes that expose them."""
