import { _t } from "@web/core/l10n/translation";
import { useState } from "@odoo/owl";
import { patch } from "@web/core/utils/patch";
import { ReceiptScreen } from "@point_of_sale/app/screens/receipt_screen/receipt_screen";

patch(ReceiptScreen.prototype, {
    setup() {
        super.setup(...arguments);
        const partner = this.currentOrder.get_partner();
        if (!this.state.phone && partner?.phone) {
            this.state.phone = partner.phone;
        }
        this.whatsapp = useState({ status: "idle", message: "" });
    },
    showPhoneInput() {
        return super.showPhoneInput() || this.pos.config.whatsapp_enabled;
    },
    async actionSendReceiptOnWhatsApp() {
        if (!this.isValidPhone) {
            this.whatsapp.status = "error";
            this.whatsapp.message = _t("Enter a valid phone number, e.g. +32 470 12 34 56.");
            return;
        }
        const order = this.currentOrder;
        const phone = this.state.phone;
        this.whatsapp.status = "loading";
        this.whatsapp.message = "";
        let image;
        try {
            image = await this.generateTicketImage();
        } catch (error) {
            this.whatsapp.status = "error";
            this.whatsapp.message = _t("The receipt image could not be rendered: %s", error?.message || error);
            return;
        }
        if (typeof order.id !== "number") {
            this.pos.queueWhatsAppReceipt(order, phone, image, this.whatsapp);
            this.whatsapp.status = "waiting";
            this.whatsapp.message = _t("The order is not synced yet: the WhatsApp receipt will be sent once it is.");
            this.pos.syncAllOrders().catch(() => {});
            return;
        }
        await this.pos.runWhatsAppReceipt(order, phone, image, this.whatsapp);
    },
});
