package netlab

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The relay delays frames where this kernel cannot: it has no netem qdisc (nor fq, for
// timestamp-based delay), and nftables has no queue to userspace. splice takes node i's
// hub port n<i> off the bridge and joins it, through raw packet sockets in the hub, to a
// new veth pair d<i>/b<i> whose b<i> end is the bridge port instead:
//
//	node eth0 ──veth── n<i> ⇄ relay ⇄ d<i> ──veth── b<i> ─ br0 (cuts, loss)
//
// Frames a node sends are read from n<i>, held for the delay plus or minus the jitter,
// and written to d<i>; frames towards the node go from d<i> to n<i> at once. So each
// packet between two nodes is delayed once, in the sender's relay, and crosses the
// bridge, its cuts and its loss rule, exactly as before. The sockets carry a virtio-net
// header (PACKET_VNET_HDR), so segmentation-offloaded TCP and checksums left to the
// hardware pass through as the kernel handed them over.

// maxDelay bounds Impairment.Delay: a WAN round trip is well under a second.
const maxDelay = time.Second

// maxHeld bounds the bytes of the frames a relay holds at once, over all nodes; beyond it
// frames are dropped, as a router's full queue drops them.
const maxHeld = 64 << 20

// frameBuf fits the largest segmentation-offloaded frame (64 KiB) and its header.
const frameBuf = 1<<16 + 256

// relay forwards frames between each node's port and its bridge port, delaying those
// the node sends.
type relay struct {
	delay, jitter atomic.Int64 // nanoseconds
	held          atomic.Int64 // bytes of the frames waiting for their delay
	dropped       atomic.Int64 // frames dropped because maxHeld bytes were held
	kernelDrops   atomic.Int64 // frames the sockets' full buffers dropped, read so far

	wg    sync.WaitGroup
	files []*os.File
}

// splice rewires every node's hub port through a relay; see the comment above. l.mu is
// held.
func (l *Lab) splice() (*relay, error) {
	var lines []string
	for i := range l.addrs {
		n, d, b := port(i), "d"+strconv.Itoa(i), relayPort(i)
		lines = append(lines,
			"link set "+n+" nomaster",
			"link set "+n+" promisc on",
			"link add "+d+" type veth peer name "+b,
			"link set dev "+d+" addrgenmode none",
			"link set dev "+b+" addrgenmode none",
			"link set "+d+" promisc on",
			"link set "+b+" master br0",
			"link set "+d+" up",
			"link set "+b+" up",
		)
	}
	if err := ipBatch(l.hub(), lines); err != nil {
		return nil, fmt.Errorf("splice relay ports: %w", err)
	}
	r := &relay{}
	err := inNamespace(l.hub(), func() error {
		for i := range l.addrs {
			for _, name := range []string{port(i), "d" + strconv.Itoa(i)} {
				f, err := packetSocket(name)
				if err != nil {
					return err
				}
				r.files = append(r.files, f)
			}
		}
		return nil
	})
	if err != nil {
		r.close()
		return nil, err
	}
	for i := range l.addrs {
		node, bridge := r.files[2*i], r.files[2*i+1]
		r.wg.Add(2)
		go r.forward(node, bridge, true)
		go r.forward(bridge, node, false)
	}
	if err := l.waitForwarding(relayPort); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// relayPort is node i's bridge port once the relay is spliced in.
func relayPort(i int) string { return "b" + strconv.Itoa(i) }

func (r *relay) setDelay(d, jitter time.Duration) {
	r.delay.Store(int64(d))
	r.jitter.Store(int64(jitter))
}

// forward copies frames from src to dst until src is closed, holding each for the delay
// if delayed.
func (r *relay) forward(src, dst *os.File, delayed bool) {
	defer r.wg.Done()
	buf := make([]byte, frameBuf)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return // closed (relay.close), or the interface is gone with its namespace
		}
		d := time.Duration(r.delay.Load())
		if !delayed || d == 0 {
			dst.Write(buf[:n]) // a failed write is a lost frame
			continue
		}
		if r.held.Add(int64(n)) > maxHeld {
			r.held.Add(-int64(n))
			r.dropped.Add(1)
			continue
		}
		if j := r.jitter.Load(); j > 0 {
			// Not replayable: the lab's timing is real time, not a simulation's.
			d += time.Duration(rand.Int64N(2*j+1) - j)
		}
		frame := bytes.Clone(buf[:n])
		time.AfterFunc(d, func() {
			dst.Write(frame) // a failed write is a lost frame
			r.held.Add(-int64(len(frame)))
		})
	}
}

// lost is how many frames the relay lost on its own: dropped at maxHeld, or by the
// kernel because a socket's receive buffer was full (PACKET_STATISTICS, which resets at
// each read, so lost adds them up).
func (r *relay) lost() int64 {
	for _, f := range r.files {
		c, err := f.SyscallConn()
		if err != nil {
			continue
		}
		c.Control(func(fd uintptr) {
			if st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
				r.kernelDrops.Add(int64(st.Drops))
			}
		})
	}
	return r.dropped.Load() + r.kernelDrops.Load()
}

// close closes the sockets, which ends the forwarding goroutines; held frames are lost.
func (r *relay) close() {
	for _, f := range r.files {
		f.Close()
	}
	r.wg.Wait()
}

// packetSocket opens a raw packet socket bound to interface name in the calling thread's
// namespace, with a virtio-net header on every frame and without the frames it sends
// itself, as a non-blocking file the runtime polls.
func packetSocket(name string) (*os.File, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("relay socket on %s: %w", name, err)
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("relay socket on %s: %w", name, err)
	}
	for _, o := range [][2]int{
		{unix.SOL_PACKET, unix.PACKET_VNET_HDR},
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING},
	} {
		if err := unix.SetsockoptInt(fd, o[0], o[1], 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("relay socket on %s: option %d: %w", name, o[1], err)
		}
	}
	// Room for bursts: a full buffer drops frames the kernel already accepted.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("relay socket on %s: bind: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "packet:"+name), nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// inNamespace runs fn on an OS thread that has entered network namespace ns. The thread
// is never given back to the scheduler: it ends with the goroutine that locked it.
func inNamespace(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread is in another namespace now
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
