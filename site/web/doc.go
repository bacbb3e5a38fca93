// Package web is the site's read-only dashboard: one HTML page, one script and one
// stylesheet, embedded in the binary and served by Handler at the root of the site's
// HTTP server (site.yaml `http:`).
//
// It serves static files only and imports nothing of Atoll's: the page's script reads
// the site's own read API from the browser, so the dashboard can never show what the
// API does not, and never writes.
//
//	GET /v1/whoami  who the login cookie proves; 401 shows the sign-in form
//	POST /v1/login  {"token": "..."} from the form: the site sets an HttpOnly cookie
//	POST /v1/logout clears it, and ends an OpenID Connect session
//	GET /v1/login/methods  whether the site has an OpenID provider; if so, the form
//	                links to GET /v1/oidc/login, which comes back with a session
//	GET /v1/view    the whole View, once at load and every 2 s while the stream is down
//	GET /v1/stream  server-sent "view" events, each a whole View, as it changes
//
// The files themselves are public: they hold no data. What an identity may see is the
// server's to decide; the page shows who is signed in and an operator's namespaces.
//
// Sections: sites, member clusters, workloads with their per-site and per-cluster
// shares, residency of bounded workloads (a site outside the bound holds the signed
// header only, and says so), convergence, and recent events. Every value comes from
// the JSON and reaches the page as text (textContent), never as markup; a
// Content-Security-Policy of 'self' backs that up.
//
// Workloads are a virtual list: rows of a fixed height in a scroller, of which only those
// in sight (and ten on either side) are in the document, so 10,000 workloads cost what
// forty do; a search box filters them in the page as GET /v1/view?q= does at the site
// (namespace/name holding the text, ignoring case), and a row selected (or the only
// match) shows its card with the shares per site and cluster. The residency table lists
// the first 200 bounded workloads.
//
// Assets are served with an ETag (a hash of their bytes) and Cache-Control: no-cache,
// so a browser revalidates each load and a new binary's page is never mixed with an old
// script.
package web
