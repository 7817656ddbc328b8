package instance

import (
	"fmt"
	"time"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/metrics"
	"github.com/titan-commerce/titan/processors/recommendations"
	"github.com/titan-commerce/titan/schemas/codec"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	orderstopo "github.com/titan-commerce/titan/topologies/orders"
	recstopo "github.com/titan-commerce/titan/topologies/recommendations"
)

// recsPipeline is the recommendation topology and what the API reads of it.
type recsPipeline struct {
	names    recstopo.Names
	outcomes goka.Stream
	// Views for the API; nil without it.
	items, users *view
}

func newRecsPipeline(namespace string) *recsPipeline {
	return &recsPipeline{names: recstopo.NamesFor(namespace), outcomes: orderstopo.NamesFor(namespace).Outcomes}
}

func (p *recsPipeline) topics(partitions int32) []kafkaadmin.Topic {
	return p.names.Topics(partitions, p.outcomes)
}

func (p *recsPipeline) copartitioned() []kafkaadmin.Copartitioned {
	return p.names.Copartitioned(p.outcomes)
}

func (i *Instance) buildRecs(hooks *metrics.Processing) error {
	var err error
	_, err = supervised(i, TopologyRecommendations, recstopo.New, recstopo.Options{
		TimeWindow: i.cfg.TimeWindow,
		Partitions: int32(i.cfg.Partitions),
		Names:      i.recs.names,
		Outcomes:   i.recs.outcomes,
		Goka:       i.gokaConfig(i.procs.Build, "recommendations"),
		Policy:     recommendations.DefaultPolicy(),
		Hooks:      hooks,
		Logger:     i.log,
	})
	return err
}

// recsDeps builds what the API's recommendation routes read; nil when the
// instance runs no recommendations.
func (i *Instance) recsDeps(viewOpts func(*api.Notifier) []goka.ViewOption) (*api.RecommendationDeps, error) {
	p := i.recs
	if p == nil {
		return nil, nil
	}
	var err error
	if p.items, err = i.newView(p.names.ItemsTable(), codec.NewProto[*recommendationsv1.ItemState](), viewOpts(api.NewNotifier())...); err != nil {
		return nil, fmt.Errorf("instance: item view: %w", err)
	}
	if p.users, err = i.newView(p.names.UsersTable(), codec.NewProto[*recommendationsv1.UserHistory](), viewOpts(api.NewNotifier())...); err != nil {
		return nil, fmt.Errorf("instance: user history view: %w", err)
	}
	policy := recommendations.DefaultPolicy()
	toAPI := func(recs []recommendations.Rec) []api.Recommendation {
		out := make([]api.Recommendation, len(recs))
		for n, r := range recs {
			out[n] = api.Recommendation{SKU: r.SKU, Score: r.Score, ViewScore: r.ViewScore, PurchaseScore: r.PurchaseScore, Reason: r.Reason}
		}
		return out
	}
	return &api.RecommendationDeps{
		Items: p.items,
		Users: p.users,
		TopItems: func(s *recommendationsv1.ItemState, k int, now time.Time, skip func(string) bool) []api.Recommendation {
			return toAPI(recommendations.ItemStateFromWire(s).Top(k, now, policy, skip))
		},
		ForUser: func(h *recommendationsv1.UserHistory, items func(string) (*recommendationsv1.ItemState, bool), k int,
			now time.Time, skip func(string) bool) []api.Recommendation {
			lookup := func(sku string) (recommendations.ItemState, bool) {
				w, ok := items(sku)
				if !ok {
					return recommendations.ItemState{}, false
				}
				return recommendations.ItemStateFromWire(w), true
			}
			return toAPI(recommendations.ForUser(recommendations.UserHistoryFromWire(h), lookup, k, now, policy, skip))
		},
	}, nil
}
