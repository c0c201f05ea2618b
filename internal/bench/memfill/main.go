// Command memfill is the benchmark's memory step: it requests N distinct cacheable
// URLs once each through the proxy (so each is stored), then a sample of them again to
// check that they were (X-Cache: HIT), and prints what it saw. run.sh reads the
// proxy's RSS before and after.
//
//	memfill --base http://127.0.0.1:3000 --n 20000 [--conns 16]
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

func main() {
	base := flag.String("base", "", "proxy URL (loopback)")
	n := flag.Int("n", 20000, "distinct objects to fill")
	conns := flag.Int("conns", 16, "concurrent keep-alive connections")
	flag.Parse()
	if *base == "" {
		log.Fatal("memfill: --base is required")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns}}
	get := func(i int) (string, error) {
		resp, err := client.Get(*base + "/mem/" + strconv.Itoa(i))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET /mem/%d: %s", i, resp.Status)
		}
		return resp.Header.Get("X-Cache"), nil
	}
	var next, misses atomic.Int64
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				xc, err := get(i)
				if err != nil {
					log.Fatalf("memfill: %v", err)
				}
				if xc != "HIT" {
					misses.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	hits := 0
	const sample = 200
	for i := 0; i < *n; i += max(1, *n/sample) {
		if xc, err := get(i); err == nil && xc == "HIT" {
			hits++
		}
	}
	fmt.Printf("filled %d objects (%d misses); %d of a sample of %d answered HIT afterwards\n", *n, misses.Load(), hits, min(sample, *n))
}
