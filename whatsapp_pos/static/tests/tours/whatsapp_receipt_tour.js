import * as ProductScreen from "@point_of_sale/../tests/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/tours/utils/receipt_screen_util";
import * as PaymentScreen from "@point_of_sale/../tests/tours/utils/payment_screen_util";
import * as Chrome from "@point_of_sale/../tests/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/tours/utils/dialog_util";
import { registry } from "@web/core/registry";

function setPhone(phone) {
    return {
        content: `type the number ${phone}`,
        trigger: ".receipt-screen .send-receipt-phone-input",
        run: `edit ${phone}`,
    };
}

function clickWhatsApp() {
    return {
        content: "send the receipt by WhatsApp",
        trigger: ".receipt-screen .o_whatsapp_receipt_button:not([disabled])",
        run: "click",
    };
}

function status(kind, text) {
    return {
        content: `WhatsApp status: ${kind} ${text}`,
        trigger: `.receipt-screen .o_whatsapp_receipt_status.text-${kind}:contains("${text}")`,
    };
}

function payOrder(product) {
    return [
        ProductScreen.addOrderline(product, "1"),
        ProductScreen.clickPayButton(),
        PaymentScreen.clickPaymentMethod("Bank"),
        PaymentScreen.clickValidate(),
        ReceiptScreen.receiptIsThere(),
    ].flat();
}

registry.category("web_tour.tours").add("WhatsAppReceiptTour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            // 1. a synced order: the receipt is queued, the result is shown
            payOrder("Desk Pad"),
            setPhone("+32 470 12 34 56"),
            clickWhatsApp(),
            status("success", "+32470123456"),
            // 2. a number the server refuses: the error is shown, not swallowed
            setPhone("+999 1234 5678"),
            clickWhatsApp(),
            status("danger", "not a valid phone number"),
            ReceiptScreen.clickNextOrder(),
            // 3. an order not synced yet: kept in the POS, sent once synced. The sync is held back by a stub
            // (the real offline mode makes the payment screen leave an unhandled rejection, which fails tours)
            {
                content: "hold the synchronisation back",
                trigger: ".pos .product-screen",
                run: () => {
                    window.posmodel.syncAllOrders = async () => [];
                },
            },
            payOrder("Whiteboard Pen"),
            setPhone("+32 470 99 88 77"),
            clickWhatsApp(),
            status("info", "once it is"),
            {
                content: "the order is still not synced; then the synchronisation runs",
                trigger: ".receipt-screen",
                run: async () => {
                    const order = window.posmodel.get_order();
                    if (typeof order.id === "number") {
                        throw new Error("the order should not be synced yet");
                    }
                    delete window.posmodel.syncAllOrders;
                    await window.posmodel.syncAllOrders();
                },
            },
            status("success", "+32470998877"),
            ReceiptScreen.clickNextOrder(),
        ].flat(),
});
