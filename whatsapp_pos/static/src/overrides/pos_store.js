import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { PosStore } from "@point_of_sale/app/store/pos_store";

/**
 * WhatsApp receipts in the POS store: the RPC to the backend, and the requests made on orders that are not
 * synced yet, kept here and sent as soon as the order is synced (never blocking the cashier).
 */
patch(PosStore.prototype, {
    /**
     * @param {Object} order a synced pos.order
     * @param {string} phone
     * @param {string} image the receipt as rendered by the POS (base64 JPEG)
     * @returns {Promise<{number: string, messages: Object[]}>}
     */
    async sendWhatsAppReceipt(order, phone, image) {
        return await this.data.call("pos.order", "action_sent_message_on_whatsapp", [
            [order.id],
            phone,
            image,
            null,
        ]);
    },
    /**
     * Keep the request of an order not yet synced: sent by `flushWhatsAppReceipts` after its sync.
     * `state` is the (reactive) status shown on the receipt screen.
     */
    queueWhatsAppReceipt(order, phone, image, state) {
        this.whatsappReceiptRequests ||= {};
        this.whatsappReceiptRequests[order.uuid] = { phone, image, state };
    },
    get whatsappPendingCount() {
        return Object.keys(this.whatsappReceiptRequests || {}).length;
    },
    postSyncAllOrders(orders) {
        super.postSyncAllOrders(...arguments);
        if (this.whatsappPendingCount) {
            // not awaited: the sync (and the cashier) never wait for WhatsApp
            this.flushWhatsAppReceipts();
        }
    },
    async flushWhatsAppReceipts() {
        const requests = this.whatsappReceiptRequests || {};
        for (const [uuid, request] of Object.entries(requests)) {
            const order = this.models["pos.order"].getBy("uuid", uuid);
            if (!order || typeof order.id !== "number") {
                continue;
            }
            delete requests[uuid];
            await this.runWhatsAppReceipt(order, request.phone, request.image, request.state, true);
        }
    },
    /**
     * Send, and report the outcome on `state` and, for requests sent after a sync, as a notification too.
     */
    async runWhatsAppReceipt(order, phone, image, state, notify = false) {
        state.status = "loading";
        state.message = "";
        try {
            const result = await this.sendWhatsAppReceipt(order, phone, image);
            state.status = "success";
            state.message = _t("WhatsApp receipt of %(order)s queued for %(number)s.", {
                order: order.pos_reference || order.name,
                number: result.number,
            });
            if (notify) {
                this.notification.add(state.message, { type: "success" });
            }
        } catch (error) {
            state.status = "error";
            state.message =
                error?.data?.message ||
                error?.message ||
                _t("Sending the WhatsApp receipt failed. Please try again.");
            if (notify) {
                this.notification.add(state.message, { type: "danger", sticky: true });
            }
        }
    },
});
