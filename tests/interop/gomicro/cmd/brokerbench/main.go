// Command brokerbench is go-micro v4's side of tests/bench/broker_bench.sh: one process publishes
// -n messages through go-micro's broker (HTTP, with an in-process registry, or the NATS plugin)
// from -publishers goroutines to a subscriber of its own, and prints one JSON line: messages per
// second from the first publish to the last message handled, and the publish-to-handler latency
// percentiles. tests/bench/broker_bench.cc does the same with micro-cpp's brokers.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsbroker "github.com/go-micro/plugins/v4/broker/nats"
	"go-micro.dev/v4/broker"
	"go-micro.dev/v4/registry"
)

func main() {
	kind := flag.String("broker", "http", "http or nats")
	addr := flag.String("broker_address", "127.0.0.1:4222", "nats: servers")
	n := flag.Int("n", 20000, "messages")
	pubs := flag.Int("publishers", 1, "concurrent publishers")
	size := flag.Int("size", 64, "body bytes (at least 24)")
	serial := flag.Bool("serial", false, "each publisher waits for its message to be handled before the next")
	flag.Parse()

	var b broker.Broker
	if *kind == "nats" {
		b = natsbroker.NewBroker(broker.Addrs(strings.Split(*addr, ",")...))
	} else {
		b = broker.NewBroker(broker.Registry(registry.NewMemoryRegistry()), broker.Addrs("127.0.0.1:0"))
	}
	if err := b.Connect(); err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	lat := make([]int64, *n)
	var got int64
	done := make(chan struct{})
	handled := make([]chan struct{}, *pubs)
	for i := range handled {
		handled[i] = make(chan struct{}, 1)
	}
	start := time.Now()
	sub, err := b.Subscribe("bench", func(e broker.Event) error {
		body := e.Message().Body
		i := binary.LittleEndian.Uint64(body[0:8])
		sent := int64(binary.LittleEndian.Uint64(body[8:16]))
		if i < uint64(len(lat)) {
			lat[i] = int64(time.Since(start)) - sent
		}
		if *serial {
			handled[binary.LittleEndian.Uint64(body[16:24])] <- struct{}{}
		}
		if atomic.AddInt64(&got, 1) == int64(*n) {
			close(done)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "subscribe:", err)
		os.Exit(1)
	}
	// A warm-up message (not counted) so that the subscriber is found and connections are up.
	time.Sleep(200 * time.Millisecond)
	begin := time.Now()
	var wg sync.WaitGroup
	var next int64 = -1
	for p := 0; p < *pubs; p++ {
		wg.Add(1)
		p := p
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(*n) {
					return
				}
				body := make([]byte, *size)
				binary.LittleEndian.PutUint64(body[0:8], uint64(i))
				binary.LittleEndian.PutUint64(body[8:16], uint64(time.Since(start)))
				binary.LittleEndian.PutUint64(body[16:24], uint64(p))
				msg := &broker.Message{Header: map[string]string{"Content-Type": "application/octet-stream"}, Body: body}
				if err := b.Publish("bench", msg); err != nil {
					fmt.Fprintln(os.Stderr, "publish:", err)
					os.Exit(1)
				}
				if *serial {
					select {
					case <-handled[p]:
					case <-time.After(5 * time.Second): // lost (at most once): go on
					}
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // what has not arrived by then is counted as not received
	}
	elapsed := time.Since(begin)
	received := atomic.LoadInt64(&got)
	sub.Unsubscribe()
	b.Disconnect()
	var ls []int64
	for _, l := range lat {
		if l > 0 {
			ls = append(ls, l)
		}
	}
	sort.Slice(ls, func(a, c int) bool { return ls[a] < ls[c] })
	pct := func(q float64) float64 {
		if len(ls) == 0 {
			return 0
		}
		return float64(ls[int(q*float64(len(ls)-1))]) / 1e3
	}
	out, _ := json.Marshal(map[string]interface{}{
		"received": received, "msgs_per_s": float64(received) / elapsed.Seconds(),
		"p50_us": pct(0.5), "p99_us": pct(0.99),
	})
	fmt.Println(string(out))
}
