package transport_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"strconv"

	"atoll/site/transport"
)

// charter maps public keys to site names; a real site reads its signed
// federation charter.
type charter map[string]string

func (c charter) Lookup(key ed25519.PublicKey) (string, bool) {
	name, ok := c[string(key)]
	return name, ok
}

// Two sites; "north" serves an echo on channel 'E' and "south" dials it.
func Example() {
	_, northKey, _ := ed25519.GenerateKey(nil)
	_, southKey, _ := ed25519.GenerateKey(nil)
	peers := charter{
		string(northKey.Public().(ed25519.PublicKey)): "north",
		string(southKey.Public().(ed25519.PublicKey)): "south",
	}
	start := func(name string, key ed25519.PrivateKey) *transport.Transport {
		cfg := transport.DefaultConfig()
		cfg.Name, cfg.Key, cfg.BindAddr, cfg.Peers = name, key, "127.0.0.1:0", peers
		t, err := transport.New(cfg)
		if err != nil {
			panic(err)
		}
		return t
	}
	north, south := start("north", northKey), start("south", southKey)
	defer north.Shutdown()
	defer south.Shutdown()

	north.Handle('E', func(c *transport.Conn) {
		_, _ = io.Copy(c, c) // returns when south closes its side
	})
	ip, port := north.Addr()
	c, err := south.Dial(context.Background(), net.JoinHostPort(ip.String(), strconv.Itoa(port)), "north", 'E')
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Fprint(c, "hello")
	buf := make([]byte, 5)
	_, _ = io.ReadFull(c, buf)
	fmt.Printf("%s from %s\n", buf, c.Peer)
	// Output: hello from north
}
