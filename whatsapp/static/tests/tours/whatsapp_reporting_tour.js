import { registry } from "@web/core/registry";

// WhatsApp › Messages: both directions, with the customer and a clickable record; the badges and the
// reporting graph in WhatsApp's colours (failed red, read blue, delivered green).

registry.category("web_tour.tours").add("whatsapp_messages_list_tour", {
    steps: () => [
        {
            content: "The customer of an outgoing message, its state in read blue",
            trigger:
                ".o_list_view .o_data_row:contains(Outbound):contains(Tour Read) td[name=partner_id]:contains(Tour Read)",
        },
        {
            trigger:
                ".o_list_view .o_data_row:contains(Outbound):contains(Tour Read) td[name=state] .text-bg-info:contains(Read)",
        },
        {
            trigger:
                ".o_list_view .o_data_row:contains(Tour Failed) td[name=state] .text-bg-danger:contains(Failed)",
        },
        {
            trigger:
                ".o_list_view .o_data_row:contains(Tour Delivered) td[name=state] .text-bg-success:contains(Delivered)",
        },
        {
            content: "The customer's answer is listed too, with the record of the template it answers",
            trigger:
                ".o_list_view .o_data_row:contains(Inbound) td[name=partner_id]:contains(Tour Read)",
        },
        {
            content: "One click to the record",
            trigger: ".o_list_view .o_data_row:contains(Inbound) td[name=record_res_id] a:contains(Tour Read)",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_breadcrumb:contains(Tour Read)",
        },
    ],
});

registry.category("web_tour.tours").add("whatsapp_reporting_colours_tour", {
    steps: () => [
        {
            content: "The graph stacks the messages by state, each in its own colour",
            trigger: ".o_graph_renderer canvas",
            run() {
                const canvas = document.querySelector(".o_graph_renderer canvas");
                const chart = window.Chart.getChart(canvas);
                const colours = Object.fromEntries(
                    chart.data.datasets.map((dataset) => [dataset.label, dataset.backgroundColor])
                );
                const expected = { Failed: "#dc3545", Read: "#34b7f1", Delivered: "#25d366" };
                for (const [label, colour] of Object.entries(expected)) {
                    if (colours[label] !== colour) {
                        throw new Error(`${label} should be ${colour}: ${JSON.stringify(colours)}`);
                    }
                }
            },
        },
    ],
});
