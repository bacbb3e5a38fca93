// Command provider is an OpenID provider for tests: zitadel/oidc's example provider
// (github.com/zitadel/oidc/v3/example/server) with users read from a file, one public
// client using PKCE (no secret) whose loopback redirect URI may use any port (RFC 8252),
// and a "groups" claim in the ID token taken from the users file.
//
// It listens on -addr (port 0: any free port) and prints one line "issuer <url>" on
// stdout once it serves, so that a test learns the issuer before it starts a site.
//
// Usage:
//
//	provider -addr 127.0.0.1:0 -host localhost -client atoll -redirect http://127.0.0.1/v1/oidc/callback -users users.json
//
// users.json maps user ids (the ID token's subject) to users:
//
//	{"alice": {"ID": "alice", "Username": "alice", "Password": "pw", "Groups": ["sre"]}}
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// user is one entry of the users file: the example's user and its groups.
type user struct {
	storage.User
	Groups []string `json:"Groups,omitempty"`
}

// users serves the example storage's user lookups from the file.
type users map[string]*user

func (u users) GetUserByID(id string) *storage.User {
	if x, ok := u[id]; ok {
		return &x.User
	}
	return nil
}

func (u users) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return &x.User
		}
	}
	return nil
}

func (u users) ExampleClientID() string { return storage.ServiceUserID }

// withGroups adds the "groups" claim to the ID tokens the example storage makes.
type withGroups struct {
	*storage.Storage
	users users
}

var _ op.CanSetUserinfoFromRequest = withGroups{}

func (s withGroups) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if u, ok := s.users[req.GetSubject()]; ok && len(u.Groups) > 0 {
		info.AppendClaims("groups", u.Groups)
	}
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "host:port to listen at (port 0: any free port)")
	client := flag.String("client", "atoll", "id of the public client (PKCE, no secret)")
	redirect := flag.String("redirect", "http://127.0.0.1/v1/oidc/callback", "the client's redirect URI; on loopback any port matches")
	usersFile := flag.String("users", "", "JSON file of users: id -> {ID, Username, Password, Email, Groups}")
	host := flag.String("host", "", "host name of the issuer URL (default: the address listened at)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(*addr, *host, *client, *redirect, *usersFile, log); err != nil {
		log.Error("provider", "err", err)
		os.Exit(1)
	}
}

func run(addr, host, client, redirect, usersFile string, log *slog.Logger) error {
	b, err := os.ReadFile(usersFile)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	us := users{}
	if err := json.Unmarshal(b, &us); err != nil {
		return fmt.Errorf("users %s: %w", usersFile, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	issuer := "http://" + ln.Addr().String() + "/"
	if host != "" {
		issuer = "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)) + "/"
	}
	storage.RegisterClients(storage.NativeClient(client, redirect))
	st := withGroups{Storage: storage.NewStorage(us), users: us}
	router := exampleop.SetupServer(issuer, st, log, false)
	fmt.Printf("issuer %s\n", issuer)
	return http.Serve(ln, router)
}
