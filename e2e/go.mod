module github.com/gravestench/servicemesh/e2e

go 1.25

replace github.com/gravestench/servicemesh => ../

require github.com/gravestench/servicemesh v0.0.0-00010101000000-000000000000

require (
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/chromedp/chromedp v0.24.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)
