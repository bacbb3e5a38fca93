package transport

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.Name, c.Key, c.BindAddr, c.Peers = "a", testKey(1), "127.0.0.1:0", newCharter()
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	zero := valid()
	zero.HandshakeTimeout, zero.PacketWindow, zero.MaxPacketBytes, zero.MaxHandshakes = 0, 0, 0, 0
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero tunables mean defaults: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "Name"},
		{"short key", func(c *Config) { c.Key = c.Key[:10] }, "Key"},
		{"no peers", func(c *Config) { c.Peers = nil }, "Peers"},
		{"bind host name", func(c *Config) { c.BindAddr = "localhost:7946" }, "BindAddr"},
		{"bind no port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "BindAddr"},
		{"advertise unspecified", func(c *Config) { c.AdvertiseAddr = "0.0.0.0:7946" }, "AdvertiseAddr"},
		{"advertise port 0", func(c *Config) { c.AdvertiseAddr = "10.0.0.1:0" }, "AdvertiseAddr"},
		{"negative timeout", func(c *Config) { c.HandshakeTimeout = -time.Second }, "HandshakeTimeout"},
		{"negative window", func(c *Config) { c.PacketWindow = -time.Second }, "PacketWindow"},
		{"tiny packets", func(c *Config) { c.MaxPacketBytes = PacketOverhead }, "MaxPacketBytes"},
		{"negative handshakes", func(c *Config) { c.MaxHandshakes = -1 }, "MaxHandshakes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			before := c
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error naming %s", err, tc.want)
			}
			if c.Name != before.Name || c.MaxPacketBytes != before.MaxPacketBytes {
				t.Fatal("Validate changed the config")
			}
		})
	}
}

func TestNewRefusesKeyOfAnotherSite(t *testing.T) {
	ch := newCharter()
	ch.add("b", testKey(1))
	c := DefaultConfig()
	c.Name, c.Key, c.BindAddr, c.Peers = "a", testKey(1), "127.0.0.1:0", ch
	if tr, err := New(c); err == nil {
		_ = tr.Shutdown()
		t.Fatal("New accepted a key the charter gives to another site")
	}
}

func TestFinalAdvertiseAddr(t *testing.T) {
	ch := newCharter()
	ch.add("a", testKey(1))
	tr := newSite(t, ch, "a", testKey(1), func(c *Config) { c.AdvertiseAddr = "10.1.2.3:7000" })
	ip, port, err := tr.FinalAdvertiseAddr("", 0)
	if err != nil || ip.String() != "10.1.2.3" || port != 7000 {
		t.Errorf("FinalAdvertiseAddr from config: %v %d %v", ip, port, err)
	}
	ip, port, err = tr.FinalAdvertiseAddr("192.0.2.1", 7946)
	if err != nil || ip.String() != "192.0.2.1" || port != 7946 {
		t.Errorf("FinalAdvertiseAddr from memberlist: %v %d %v", ip, port, err)
	}
	plain := newSite(t, ch, "a", testKey(1), nil)
	bip, bport := plain.Addr()
	ip, port, err = plain.FinalAdvertiseAddr("", 0)
	if err != nil || !ip.Equal(bip) || port != bport || len(ip) != 4 {
		t.Errorf("FinalAdvertiseAddr from the bound address: %v %d %v, bound %v %d", ip, port, err, bip, bport)
	}
}
