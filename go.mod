module github.com/socketqueue/socketqueue-go

go 1.26.0

require (
	github.com/goccy/go-json v0.12.0
	github.com/moov-io/iso8583 v0.25.0
)

require (
	github.com/yerden/go-util v1.1.4 // indirect
	golang.org/x/text v0.43.0 // indirect
)
