import { registry } from "@web/core/registry";
import { graphView } from "@web/views/graph/graph_view";
import { GraphRenderer } from "@web/views/graph/graph_renderer";

/** WhatsApp's colours for the states of a message: the same meaning in every chart. */
export const STATE_COLORS = {
    queued: "#f0ad4e",
    sending: "#f0ad4e",
    sent: "#adb5bd",
    delivered: "#25d366",
    read: "#34b7f1",
    replied: "#1f78b4",
    received: "#875a7b",
    failed: "#dc3545",
    bounced: "#a71d2a",
    cancelled: "#495057",
};

/**
 * Graph of WhatsApp messages: the bars and lines of a message state (grouped by state, as the reports are)
 * always have that state's colour (failed red, read blue, delivered green...), not the palette's colour of
 * their position.
 */
export class WhatsAppMessageGraphRenderer extends GraphRenderer {
    /** @returns {Object<string, string>} colour of each state label (the labels the chart shows) */
    get stateColorsByLabel() {
        const selection = this.model.metaData.fields.state?.selection || [];
        return Object.fromEntries(
            selection.filter(([key]) => key in STATE_COLORS).map(([key, label]) => [label, STATE_COLORS[key]])
        );
    }

    getBarChartData() {
        const data = super.getBarChartData();
        const colors = this.stateColorsByLabel;
        for (const dataset of data.datasets) {
            if (dataset.type === "line") {
                continue; // the overlay of the total
            }
            if (colors[dataset.label]) {
                dataset.backgroundColor = colors[dataset.label];
            }
        }
        return data;
    }

    getLineChartData() {
        const data = super.getLineChartData();
        const colors = this.stateColorsByLabel;
        for (const dataset of data.datasets) {
            if (colors[dataset.label]) {
                dataset.borderColor = colors[dataset.label];
                dataset.pointBackgroundColor = colors[dataset.label];
                dataset.hoverBackgroundColor = colors[dataset.label];
            }
        }
        return data;
    }
}

export const whatsappMessageGraphView = {
    ...graphView,
    Renderer: WhatsAppMessageGraphRenderer,
};

registry.category("views").add("whatsapp_message_graph", whatsappMessageGraphView);
