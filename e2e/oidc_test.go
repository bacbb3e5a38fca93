package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"atoll/site"
)

// oidcUsers are the test provider's users: alice is mapped by subject, bob by group,
// mallory not at all.
const oidcUsers = `{
  "alice":   {"ID": "alice",   "Username": "alice",   "Password": "correct horse", "Email": "alice@example.org", "EmailVerified": true},
  "bob":     {"ID": "bob",     "Username": "bob",     "Password": "correct horse", "Email": "bob@example.org", "EmailVerified": true, "Groups": ["bankers"]},
  "mallory": {"ID": "mallory", "Username": "mallory", "Password": "correct horse", "Email": "mallory@example.org", "EmailVerified": true, "Groups": ["guests"]}
}`

// oidcProvider starts the test OpenID provider (hack/oidc, built by make oidc) on a free
// port with oidcUsers and a public client "atoll" whose loopback redirect URI
// /v1/oidc/callback matches any port. Its issuer names localhost, so that it is another
// site than the sites' 127.0.0.x addresses, as a real provider is. It returns the issuer.
func oidcProvider(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("ATOLL_OIDC_PROVIDER")
	if bin == "" {
		out, err := exec.Command("bash", "../hack/oidc/build.sh", "--print-dir").Output()
		if err != nil {
			t.Fatalf("hack/oidc/build.sh --print-dir: %v", err)
		}
		bin = filepath.Join(strings.TrimSpace(string(out)), "oidc-provider")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("ATOLL_REQUIRE_BROWSER") != "" {
			t.Fatalf("the test OpenID provider is missing (make oidc): %v", err)
		}
		t.Skipf("the test OpenID provider is missing: run make oidc (%v)", err)
	}
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(oidcUsers), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-host", "localhost", "-client", "atoll",
		"-redirect", "http://127.0.0.1/v1/oidc/callback", "-users", users)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "provider.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("provider log:\n%s", b)
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		issuer, found := strings.CutPrefix(l, "issuer ")
		if !ok || !found {
			t.Fatalf("the provider said %q, want \"issuer <url>\"", l)
		}
		return issuer
	case <-time.After(15 * time.Second):
		t.Fatal("the provider did not start within 15s")
	}
	return ""
}

// oidcByClient signs user in at the provider through site's GET /v1/oidc/login with a
// plain HTTP client, as a browser would, and returns the client (its cookies) and the
// callback URL the provider sent it to, not yet followed.
func oidcByClient(ctx context.Context, siteURL, user string) (*http.Client, string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/v1/oidc/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, siteURL+"/v1/oidc/login", nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != 200 || id == "" {
		return nil, "", fmt.Errorf("GET /v1/oidc/login ended at %s (%d), want the provider's login form", resp.Request.URL, resp.StatusCode)
	}
	form := url.Values{"id": {id}, "username": {user}, "password": {"correct horse"}}
	login := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, login.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	if err != nil {
		return nil, "", err
	}
	resp.Body.Close()
	cb := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.Contains(cb, "/v1/oidc/callback?") {
		return nil, "", fmt.Errorf("signing in %s at the provider: %d to %q, want a redirect to the callback", user, resp.StatusCode, cb)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, cb, nil
}

// across waits until js is true on the tab, through the navigations of a sign-in (a
// poll inside one page ends with the page).
func across(tab context.Context, d time.Duration, js string) error {
	end := time.Now().Add(d)
	for {
		ok, err := run(tab, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("after %s, %s is not true (last error %v)", d, js, err)
		}
		time.Sleep(100 * time.Millisecond) // a poll: the page navigates meanwhile
	}
}

func getBody(ctx context.Context, c *http.Client, u string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestOIDCLogin: a real OpenID provider process and a site mapping its user alice (by
// subject) to operator shop and the group bankers to operator bank. In Chromium, alice
// clicks "Sign in with ...", fills the provider's form and lands on the dashboard signed
// in as shop: shop's workload, not bank's; whoami names shop and alice. A callback URL
// used twice is refused the second time; bob gets bank through his group; mallory,
// mapped by nothing, is refused with a page naming her subject.
func TestOIDCLogin(t *testing.T) {
	issuer := oidcProvider(t)
	tab := browser(t)
	f := start(t, Options{Sites: 1, HTTP: true, Operators: []OperatorSpec{{"shop", []string{"shop"}}, {"bank", []string{"bank"}}},
		Tune: func(_ int, c *site.Config) {
			c.OIDC = &site.OIDCConfig{Issuer: issuer, ClientID: "atoll", RedirectURL: "http://" + c.HTTP + "/v1/oidc/callback",
				Identities: []site.OIDCIdentity{{Subject: "alice", Identity: "shop"}, {Group: "bankers", Identity: "bank"}}}
		}})
	ctx := deadline(t, 90*time.Second)
	for _, ns := range []string{"shop", "bank"} {
		op, err := newOperatorAs(f, f.Operators[ns])
		if err != nil {
			t.Fatal(err)
		}
		if err := op.writeWorkload(ctx, 0, ns, "app", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	host := strings.TrimSuffix(strings.TrimPrefix(issuer, "http://"), "/")

	// alice, in the browser.
	if err := within(tab, 20*time.Second, chromedp.Navigate(f.URL(0)+"/"),
		chromedp.Poll[chromedp.Void](`document.body.dataset.auth === 'out'`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="oidc-login"]`))); err != nil {
		t.Fatalf("the sign-in form offers no OpenID sign-in: %v", err)
	}
	label, err := run(tab, chromedp.Evaluate[string](`document.querySelector('[data-testid="oidc-login"]').textContent`))
	if err != nil || label != "Sign in with "+host {
		t.Errorf("the OpenID button says %q (%v), want %q", label, err, "Sign in with "+host)
	}
	if err := within(tab, 10*time.Second, chromedp.Evaluate[chromedp.Void](`setTimeout(() => document.querySelector('[data-testid="oidc-login"]').click(), 0)`)); err != nil {
		t.Fatal(err)
	}
	if err := across(tab, 20*time.Second, `location.host === '`+host+`' && !!document.getElementById('username')`); err != nil {
		t.Fatalf("the button did not lead to the provider's form: %v", err)
	}
	if err := within(tab, 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById('username').value = 'alice'; document.getElementById('password').value = 'correct horse'; setTimeout(() => document.querySelector('form').submit(), 0)`)); err != nil {
		t.Fatal(err)
	}
	if err := across(tab, 30*time.Second, `location.pathname === '/' && document.body.dataset.loaded === 'true' && !!document.querySelector('#workloads [data-workload="shop/app"]')`); err != nil {
		loc, _ := run(tab, chromedp.Evaluate[string](`location.href + ' ' + document.body.innerText.slice(0, 400)`))
		t.Fatalf("alice did not land on the dashboard showing shop/app (at %s): %v", loc, err)
	}
	dom, err := run(tab, chromedp.Evaluate[map[string]any](`(async () => {
		const who = await (await fetch('v1/whoami')).json();
		return {bank: document.body.innerHTML.includes('bank/app'), who: document.querySelector('[data-testid="who-text"]').textContent,
			name: who.name, via: who.via, subject: who.subject, cookie: document.cookie};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if dom["bank"] != false || dom["name"] != "shop" || dom["via"] != "oidc" || dom["subject"] != "alice" || dom["cookie"] != "" ||
		!strings.Contains(dom["who"].(string), "shop") || !strings.Contains(dom["who"].(string), "alice") {
		t.Errorf("alice's dashboard: %v; want shop's view without bank/app, whoami shop via oidc as alice, no cookie readable", dom)
	}
	screenshots(t, tab, "dashboard-oidc")
	if err := within(tab, 10*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById('logout').click()`),
		chromedp.Poll[chromedp.Void](`document.body.dataset.auth === 'out' && !document.body.innerHTML.includes('shop/app')`)); err != nil {
		t.Errorf("signing out left the page as it was: %v", err)
	}

	// mallory, in the browser: no identity here.
	if err := within(tab, 30*time.Second, chromedp.Navigate(f.URL(0)+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="oidc-login"]`)),
		chromedp.Evaluate[chromedp.Void](`setTimeout(() => document.querySelector('[data-testid="oidc-login"]').click(), 0)`)); err != nil {
		t.Fatal(err)
	}
	if err := across(tab, 20*time.Second, `!!document.getElementById('username')`); err != nil {
		t.Fatalf("mallory never saw the provider's form: %v", err)
	}
	if err := within(tab, 10*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById('username').value = 'mallory'; document.getElementById('password').value = 'correct horse'; setTimeout(() => document.querySelector('form').submit(), 0)`)); err != nil {
		t.Fatal(err)
	}
	if err := across(tab, 20*time.Second, `!!document.querySelector('[data-testid="reason"]')`); err != nil {
		t.Fatalf("mallory was not refused with a page: %v", err)
	}
	reason, err := run(tab, chromedp.Evaluate[string](`document.querySelector('[data-testid="reason"]').textContent`))
	if err != nil || !strings.Contains(reason, `OpenID subject "mallory"`) || !strings.Contains(reason, "has no identity here") {
		t.Errorf("mallory's refusal says %q (%v), want her subject and that it has no identity here", reason, err)
	}

	// A callback used twice: the second is refused.
	c, cb, err := oidcByClient(ctx, f.URL(0), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if code, body, err := getBody(ctx, c, cb); err != nil || code != http.StatusSeeOther {
		t.Fatalf("alice's callback: %d %s %v", code, body, err)
	}
	if code, body, err := getBody(ctx, c, cb); err != nil || code != http.StatusUnauthorized || !strings.Contains(body, "already completed") {
		t.Errorf("a replayed callback: %d %s %v; want 401 saying it was already completed", code, body, err)
	}
	// The replay did not end alice's session.
	if code, body, err := getBody(ctx, c, f.URL(0)+"/v1/whoami"); err != nil || code != 200 || !strings.Contains(body, `"name":"shop"`) {
		t.Errorf("alice's whoami after the replay: %d %s %v", code, body, err)
	}

	// bob, by his group: bank, not shop.
	c, cb, err = oidcByClient(ctx, f.URL(0), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if code, body, err := getBody(ctx, c, cb); err != nil || code != http.StatusSeeOther {
		t.Fatalf("bob's callback: %d %s %v", code, body, err)
	}
	code, body, err := getBody(ctx, c, f.URL(0)+"/v1/view")
	var v site.View
	if err != nil || code != 200 || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("bob's view: %d %v", code, err)
	}
	var names []string
	for _, w := range v.Workloads {
		names = append(names, w.Workload)
	}
	if len(names) != 1 || names[0] != "bank/app" {
		t.Errorf("bob (group bankers -> bank) sees %v, want only bank/app", names)
	}
}
