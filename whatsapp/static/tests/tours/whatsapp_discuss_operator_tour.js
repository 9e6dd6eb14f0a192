import { registry } from "@web/core/registry";

/** An operator receives a WhatsApp message in Discuss and answers it. */
registry.category("web_tour.tours").add("whatsapp_discuss_operator_tour", {
    steps: () => [
        {
            content: "The WhatsApp category lists the customer's chat",
            trigger: ".o-mail-DiscussSidebarCategory-whatsapp",
        },
        {
            content: "Open the chat",
            trigger: ".o-mail-DiscussSidebarChannel:contains(Ana)",
            run: "click",
        },
        {
            content: "The customer's message, with the WhatsApp mark",
            trigger: ".o-mail-Message:contains(Hello from WhatsApp) .o-whatsapp-CustomerMark",
        },
        {
            content: "The time left in the 24-hour window",
            trigger: ".o-whatsapp-WindowLeft:contains(left to answer)",
        },
        {
            trigger: ".o-mail-Composer-input",
            run: "edit Hi Ana, how can I help?",
        },
        {
            trigger: ".o-mail-Composer-send:enabled",
            run: "click",
        },
        {
            content: "The answer shows a WhatsApp status",
            trigger: ".o-mail-Message:contains(Hi Ana, how can I help?) .o-whatsapp-MessageStatus",
        },
    ],
});

/** After 24 hours without a customer message: composer disabled, "Send a template" proposed. */
registry.category("web_tour.tours").add("whatsapp_discuss_window_closed_tour", {
    steps: () => [
        {
            trigger: ".o-mail-DiscussSidebarChannel:contains(Ana)",
            run: "click",
        },
        {
            content: "The reason and the template action replace the countdown",
            trigger: ".o-whatsapp-WindowClosed .o-whatsapp-SendTemplate",
        },
        {
            trigger: ".o-mail-Composer-input:disabled",
        },
        {
            trigger: ".o-whatsapp-SendTemplate",
            run: "click",
        },
        {
            content: "The template composer opens for the customer",
            trigger: ".modal .o_field_widget[name=template_id]",
        },
    ],
});

/** The user who sent a template finds the customer's answer in a WhatsApp chat. */
registry.category("web_tour.tours").add("whatsapp_discuss_answer_tour", {
    steps: () => [
        {
            content: "The chat opened for the sender",
            trigger: ".o-mail-DiscussSidebarChannel:contains(Tour Customer)",
            run: "click",
        },
        {
            trigger: ".o-mail-Message:contains(Yes, I am interested)",
        },
    ],
});
