module github.com/slipway-ci/slipway/ledger

go 1.26
